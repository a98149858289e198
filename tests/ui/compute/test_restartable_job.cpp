// RestartableJob (ui/compute/restartable_job.hpp): the result arrives on the owner's thread in an event of
// its own, never inside start, even when the work ends first; a newer start or a cancel drops the older
// result.

#include <QSemaphore>
#include <QTest>
#include <QThreadPool>
#include <vector>

#include "compute/restartable_job.hpp"

using namespace attnscope;
using namespace attnscope::ui;

class TestRestartableJob : public QObject {
  Q_OBJECT

 private slots:
  // A short text's computation ends before start returns: its result must still wait for the event loop
  // (GeometryPanel sets its state after start; a key press must not deliver the snapshot it asked for).
  void theResultNeverArrivesInsideStart() {
    QThreadPool pool;
    RestartableJob job;
    for (int round = 0; round < 200; ++round) {
      bool delivered = false;
      job.start(
          &pool, this, [round](const CancelToken&) { return round; },
          [&delivered, round](int result) { delivered = result == round; });
      QVERIFY2(!delivered, "delivered inside start");
      pool.waitForDone();  // the work has ended
      QVERIFY2(!delivered, "delivered without the event loop");
      QTRY_VERIFY(delivered);
    }
  }

  void aNewerStartDropsTheOlderResult() {
    QThreadPool pool;
    RestartableJob job;
    QSemaphore release;
    std::vector<int> delivered;
    job.start(
        &pool, this,
        [&release](const CancelToken&) {
          release.acquire();
          return 1;
        },
        [&delivered](int result) { delivered.push_back(result); });
    job.start(
        &pool, this, [](const CancelToken&) { return 2; },
        [&delivered](int result) { delivered.push_back(result); });
    release.release();
    pool.waitForDone();
    QTRY_COMPARE(delivered.size(), std::size_t{1});
    QTest::qWait(20);
    QCOMPARE(delivered, std::vector<int>{2});
  }

  void aCancelledJobDeliversNothing() {
    QThreadPool pool;
    RestartableJob job;
    bool delivered = false;
    bool sawCancel = false;
    QSemaphore started, release;
    job.start(
        &pool, this,
        [&](const CancelToken& cancel) {
          started.release();
          release.acquire();
          sawCancel = cancel.cancelled();
          return 0;
        },
        [&delivered](int) { delivered = true; });
    started.acquire();
    job.cancel();
    release.release();
    pool.waitForDone();
    QTest::qWait(20);
    QVERIFY(sawCancel);
    QVERIFY(!delivered);
  }
};

QTEST_MAIN(TestRestartableJob)
#include "test_restartable_job.moc"

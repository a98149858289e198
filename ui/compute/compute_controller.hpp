#pragma once
// Computes snapshots off the GUI thread. One serial worker thread owns the backend (so CUDA state stays on
// one thread); a request made while idle starts at once, and requests made while one is in flight are
// debounced; a newer request cancels the one in flight and drops its result (RestartableJob).

#include <QObject>
#include <QSize>
#include <QThreadPool>
#include <QTimer>
#include <functional>
#include <memory>
#include <optional>

#include "compute/attention_input.hpp"
#include "compute/attention_snapshot.hpp"
#include "compute/comparison.hpp"
#include "compute/restartable_job.hpp"
#include "state/view_settings.hpp"

namespace attnscope::ui {

class ComputeController : public QObject {
  Q_OBJECT

 public:
  explicit ComputeController(QObject* parent = nullptr);
  ~ComputeController() override;

  // Computes `settings` (at once when idle, else after the debounce interval), unless only how the maps are
  // drawn changed since the last request: a new head summary is then made from the snapshot on screen. A
  // request made while one is running cancels that one.
  void request(const ViewSettings& settings);
  // The same without waiting (first launch, opening a session, tests).
  void requestNow(const ViewSettings& settings);
  // Abandons the computation in flight (and any pending request); the last result stays.
  void cancel();

  void setDebounceInterval(int milliseconds) { m_debounce.setInterval(milliseconds); }
  // How long after the last result the memory kept for the next edit goes back (freed_memory.hpp).
  void setReleaseInterval(int milliseconds) { m_release.setInterval(milliseconds); }
  // How many cells a side the worker prepares each map at (asked on the GUI thread when a computation
  // starts); without it, every cell.
  void setMapPixels(std::function<QSize(const ViewSettings&)> pixels) { m_mapPixels = std::move(pixels); }
  bool isBusy() const { return m_busy; }
  quint64 generation() const { return m_job.generation(); }
  // For tests: the timer that coalesces requests made while a computation runs, and how many computations
  // have started (each one a job on the worker thread).
  QTimer* debounceTimer() { return &m_debounce; }
  quint64 startedCount() const { return m_started; }
  // How many head summaries were made from a snapshot on screen (no computation).
  quint64 summarizedCount() const { return m_summarized; }

 signals:
  // Just before each computed snapshot: its comparison with input B, or null while Compare is off (also when
  // Compare is turned off, without a computation).
  void comparisonReady(attnscope::ui::ComparisonPointer comparison);
  void snapshotReady(attnscope::ui::SnapshotPointer snapshot);
  void inputEmpty();  // the text has no tokens: nothing to compute, not an error
  void failed(attnscope::ui::SettingsField field, const QString& message);
  void cancelled();
  void busyChanged(bool busy);

 private:
  struct Worker;
  struct Outcome;
  void start();
  void summarize(HeadSummary summary);
  void finish(const Outcome& outcome);
  void setBusy(bool busy);

  QThreadPool m_pool;
  std::shared_ptr<Worker> m_worker;
  QTimer m_debounce;
  QTimer m_release;
  std::optional<ViewSettings> m_pending;
  std::optional<ViewSettings> m_lastRequested;
  RestartableJob m_job;
  std::function<QSize(const ViewSettings&)> m_mapPixels;
  // The last snapshot this sent, while the window still holds it: what a new head summary is made from.
  std::weak_ptr<const AttentionSnapshot> m_shown;
  quint64 m_started = 0;
  quint64 m_summarized = 0;
  bool m_busy = false;
};

}  // namespace attnscope::ui

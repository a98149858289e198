#pragma once
// Work off the GUI thread that a newer start supersedes: ComputeController's computations and HeatmapPlot's
// refinements. Starting or cancelling cancels the job in flight through its CancelToken (its work stops at
// the next check) and advances the generation, so that a result arriving afterwards is dropped: only the
// newest job's continuation runs, on the owner's thread.

#include <QObject>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentRun>
#include <memory>
#include <type_traits>
#include <utility>

#include "attnscope/backend.hpp"

namespace attnscope::ui {

class RestartableJob {
 public:
  // Runs `work(const CancelToken&)` on `pool`, then `done(result)` on `owner`'s thread unless start or
  // cancel was called again meanwhile. `owner` owns this object (its continuations die with it).
  template <typename Work, typename Done>
  void start(QThreadPool* pool, QObject* owner, Work work, Done done) {
    using Result = std::invoke_result_t<Work, const CancelToken&>;
    cancel();
    auto token = std::make_shared<CancelToken>();
    m_token = token;
    const quint64 generation = m_generation;
    QtConcurrent::run(pool, [token, work = std::move(work)] {
      return work(*token);
    }).then(owner, [this, generation, done = std::move(done)](Result result) {
      if (generation == m_generation) done(std::move(result));
    });
  }
  void cancel() {
    if (m_token) m_token->cancel();
    ++m_generation;
  }
  quint64 generation() const { return m_generation; }

 private:
  std::shared_ptr<CancelToken> m_token;
  quint64 m_generation = 0;
};

}  // namespace attnscope::ui

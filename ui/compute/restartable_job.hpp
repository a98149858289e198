#pragma once
// Work off the GUI thread that a newer start supersedes: ComputeController's computations and HeatmapPlot's
// refinements. Starting or cancelling cancels the job in flight through its CancelToken (its work stops at
// the next check) and advances the generation, so that a result arriving afterwards is dropped: only the
// newest job's continuation runs, on the owner's thread.

#include <QObject>
#include <QThreadPool>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "attnscope/backend.hpp"

namespace attnscope::ui {

class RestartableJob {
 public:
  // Runs `work(const CancelToken&)` on `pool`, then `done(result)` on `owner`'s thread unless start or
  // cancel was called again meanwhile. `owner` owns this object and waits for `pool` before it dies.
  template <typename Work, typename Done>
  void start(QThreadPool* pool, QObject* owner, Work work, Done done) {
    cancel();
    auto token = std::make_shared<CancelToken>();
    m_token = token;
    const quint64 generation = m_generation;
    pool->start([this, owner, token, generation, work = std::move(work), done = std::move(done)] {
      using Result = std::invoke_result_t<Work, const CancelToken&>;
      std::optional<Result> result;
      try {
        result.emplace(work(*token));
      } catch (...) {
        return;  // delivers nothing, as a superseded job: the owners' work reports its errors in its result
      }
      // Always in an event of its own, after start has returned: a continuation attached to a future that
      // had already finished (a short text's computation) ran inside start, so a caller that set its state
      // after start (GeometryPanel) had it overwritten, and a snapshot arrived inside the key press.
      QMetaObject::invokeMethod(
          owner,
          [this, generation, done, result = std::move(*result)]() mutable {
            if (generation == m_generation) done(std::move(result));
          },
          Qt::QueuedConnection);
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

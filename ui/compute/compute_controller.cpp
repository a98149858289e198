#include "compute/compute_controller.hpp"

#include <limits>
#include <new>
#include <utility>

#include "compute/background_pool.hpp"
#include "compute/freed_memory.hpp"
#include "compute/model_snapshot.hpp"
#include "text.hpp"

namespace attnscope::ui {

// Lives on the pool's one thread: only jobs running there touch it, one at a time.
struct ComputeController::Worker {
  std::unique_ptr<Backend> backend;
  Device device = Device::cpu;
  ParameterCache parameters;

  // The last snapshot computed here, while anything (the window) still holds it: an edit's computation copies
  // from it the rows the edit left alone. Weak, so that it never keeps a snapshot the window let go.
  std::weak_ptr<const AttentionSnapshot> last;
  // The one before it, held here until the next computation takes its matrices over (once the window shows
  // `last`, nothing else holds it) or the window has been idle a while (m_release).
  SnapshotPointer spare;

  Backend& backendFor(Device wanted) {
    if (!backend || device != wanted) {
      backend.reset();
      try {
        backend = make_backend(wanted);
      } catch (const Error& error) {
        throw FieldError(SettingsField::device, toQString(error.what()));
      }
      device = wanted;
    }
    return *backend;
  }

  // The model stays open between edits (opening maps the weights and reads the vocabulary); a book view
  // releases it.
  std::optional<Gpt2Model> model;
  QString modelFolder;
  // What an edit leaves unchanged in the model's states, for the next one; belongs to `model`.
  ModelCache modelCache;

  // Input B's own: its last snapshot and its model states.
  std::weak_ptr<const AttentionSnapshot> lastB;
  ModelCache modelCacheB;

  const Gpt2Model& modelFor(const QString& folder) {
    if (!model || modelFolder != folder) {
      modelCache = {};
      modelCacheB = {};
      model.reset();
      model = openModel(folder);
      modelFolder = folder;
    }
    return *model;
  }

  // Input B after A: its problems become the comparison's, never A's.
  ComparisonPointer compare(const ViewSettings& settings, const SnapshotPointer& a,
                            const CancelToken& token) {
    try {
      InputBResources resources;
      if (settings.modelFolder.isEmpty())
        resources.backend = &backendFor(settings.device);
      else
        resources.model = &*model;
      resources.parameters = &parameters;
      resources.modelCache = &modelCacheB;
      const SnapshotPointer earlier = lastB.lock();
      resources.earlier = earlier.get();
      const SnapshotPointer b = computeInputB(settings, resources, token);
      if (!b)
        return failedComparison(a, QStringLiteral("Text B is empty: type at least one word to compare."));
      lastB = b;
      return compareSnapshots(a, b);
    } catch (const Cancelled&) {
      throw;
    } catch (const std::bad_alloc&) {
      return failedComparison(a, QStringLiteral("Text B: out of memory: the text is too long."));
    } catch (const std::exception& error) {
      return failedComparison(a, QStringLiteral("Text B: %1").arg(toQString(error.what())));
    }
  }
};

struct ComputeController::Outcome {
  SnapshotPointer snapshot;
  bool computed = false;  // by the engine, not a new head summary: its comparison is sent with it
  ComparisonPointer comparison;
  bool empty = false;
  bool cancelled = false;
  SettingsField field = SettingsField::general;
  QString message;
};

namespace {

constexpr int kDefaultDebounceMs = 50;
constexpr int kDefaultReleaseMs = 3000;

}  // namespace

ComputeController::ComputeController(QObject* parent)
    : QObject(parent), m_worker(std::make_shared<Worker>()) {
  m_pool.setMaxThreadCount(1);
  m_pool.setExpiryTimeout(-1);  // keep the one thread (and the backend's state on it) alive
  // Before any computation, so that the engine's helper threads, started by the first, inherit it.
  m_pool.start([] { lowerThreadPriority(); });
  m_debounce.setObjectName(QStringLiteral("debounce"));
  m_debounce.setSingleShot(true);
  m_debounce.setInterval(kDefaultDebounceMs);
  connect(&m_debounce, &QTimer::timeout, this, &ComputeController::start);
  m_release.setSingleShot(true);
  m_release.setInterval(kDefaultReleaseMs);
  connect(&m_release, &QTimer::timeout, this, [this] {
    // The spare snapshot goes on the worker's thread, which alone touches it; then the memory goes back.
    auto worker = m_worker;
    m_pool.start([worker] {
      worker->spare.reset();
      backgroundPool()->start(releaseFreedMemory);
    });
  });
}

ComputeController::~ComputeController() {
  m_debounce.stop();
  m_job.cancel();
  // The backend is released on the thread that created it.
  auto worker = m_worker;
  m_pool.start([worker] {
    worker->backend.reset();
    worker->modelCache = {};
    worker->model.reset();
  });
  m_pool.waitForDone();
}

void ComputeController::request(const ViewSettings& settings) {
  if (m_lastRequested && m_lastRequested->compareText && !settings.compareText && !m_busy) {
    // Compare turned off: A on screen is already these settings' snapshot.
    ViewSettings withoutB = *m_lastRequested;
    withoutB.compareText.reset();
    if (withoutB.sameComputation(settings)) {
      m_lastRequested = withoutB;
      emit comparisonReady(nullptr);
    }
  }
  if (m_lastRequested && m_lastRequested->sameComputation(settings)) {
    // Only how the maps are drawn changed. A new head summary is made from the snapshot on screen (or from
    // the one in flight, when it arrives), never by running the engine again.
    const bool newSummary = settings.display.headSummary != m_lastRequested->display.headSummary;
    m_lastRequested = settings;
    if (m_pending) m_pending = settings;
    if (newSummary && !m_pending && !m_busy) summarize(settings.display.headSummary);
    return;
  }
  m_lastRequested = settings;
  m_pending = settings;
  // Nothing in flight or waiting: no reason to wait, the first keystroke computes at once.
  if (!m_busy) {
    start();
    return;
  }
  // Whatever is in flight now describes an older text: stop it and make sure its result is dropped.
  m_job.cancel();
  m_debounce.start();
  setBusy(true);
}

void ComputeController::requestNow(const ViewSettings& settings) {
  m_lastRequested = settings;
  m_pending = settings;
  m_debounce.stop();
  start();
}

void ComputeController::cancel() {
  m_debounce.stop();
  m_pending.reset();
  m_lastRequested.reset();  // the same settings asked again must compute again
  m_job.cancel();
  const bool wasBusy = m_busy;
  setBusy(false);
  if (wasBusy) emit cancelled();
}

void ComputeController::start() {
  if (!m_pending) return;
  const ViewSettings settings = std::move(*m_pending);
  m_pending.reset();
  ++m_started;
  setBusy(true);
  m_release.stop();  // this computation is what the kept memory is for

  PreparedMaps prepare;
  prepare.quantities = settings.display.quantities;
  prepare.reduction = settings.display.reduction;
  // The comparison reads A's weights, which a long text would let go once its maps are prepared.
  if (settings.compareText) prepare.keptBytes = std::numeric_limits<double>::infinity();
  if (m_mapPixels) {
    const QSize pixels = m_mapPixels(settings);
    prepare.keyPixels = pixels.width();
    prepare.queryPixels = pixels.height();
  }
  auto worker = m_worker;
  const auto compute = [worker, settings, prepare](const CancelToken& token) -> Outcome {
    Outcome outcome;
    outcome.computed = true;
    try {
      token.throw_if_cancelled();
      if (!settings.modelFolder.isEmpty()) {
        worker->spare.reset();
        const Gpt2Model& model = worker->modelFor(settings.modelFolder);
        outcome.snapshot =
            computeModelSnapshot(settings, model, token, prepare, setting_name, &worker->modelCache);
        outcome.empty = !outcome.snapshot;
        if (outcome.snapshot && settings.compareText)
          outcome.comparison = worker->compare(settings, outcome.snapshot, token);
        return outcome;
      }
      worker->model.reset();
      worker->modelCache = {};
      worker->modelCacheB = {};
      // This computation's only claim on the one before the last; gone when it ends, whatever happens.
      const SnapshotPointer spare = std::exchange(worker->spare, nullptr);
      const AttentionInput input = AttentionInput::fromSettings(settings);
      if (input.tokens.empty()) {
        outcome.empty = true;
        return outcome;
      }
      Backend& backend = worker->backendFor(settings.device);
      const SnapshotPointer earlier = worker->last.lock();
      // This worker made it and holds it alone: nothing reads it while its matrices are reused.
      AttentionSnapshot* recyclable =
          spare.use_count() == 1 ? std::const_pointer_cast<AttentionSnapshot>(spare).get() : nullptr;
      outcome.snapshot =
          computeSnapshot(input, backend, token, prepare, &worker->parameters, earlier.get(), recyclable);
      worker->last = outcome.snapshot;
      // Kept only when its matrices can be reused: a long text's were let go, and the rest is memory.
      if (earlier && earlier->keepsMatrices()) worker->spare = earlier;
      if (settings.compareText) outcome.comparison = worker->compare(settings, outcome.snapshot, token);
    } catch (const Cancelled&) {
      outcome.cancelled = true;
    } catch (const FieldError& error) {
      outcome.field = error.field();
      outcome.message = toQString(error.what());
    } catch (const std::bad_alloc&) {
      outcome.message = QStringLiteral("Out of memory: the text is too long for these settings.");
    } catch (const std::exception& error) {
      outcome.message = toQString(error.what());
    }
    return outcome;
  };
  // A newer request's start or cancel drops this outcome.
  m_job.start(&m_pool, this, compute, [this](const Outcome& outcome) { finish(outcome); });
}

void ComputeController::summarize(HeadSummary summary) {
  const SnapshotPointer shown = m_shown.lock();
  if (!shown) return;  // nothing on screen to sum up: the next computation makes the summary
  ++m_summarized;
  setBusy(true);
  const auto make = [shown, summary](const CancelToken& token) -> Outcome {
    Outcome outcome;
    try {
      outcome.snapshot = withHeadSummary(shown, summary, token);
    } catch (const Cancelled&) {
      outcome.cancelled = true;
    } catch (const std::bad_alloc&) {
      outcome.message = QStringLiteral("Out of memory: the text is too long for a summary of its heads.");
    } catch (const std::exception& error) {
      outcome.message = toQString(error.what());
    }
    return outcome;
  };
  m_job.start(&m_pool, this, make, [this](const Outcome& outcome) { finish(outcome); });
}

void ComputeController::finish(const Outcome& outcome) {
  setBusy(m_debounce.isActive());
  m_release.start();
  if (outcome.cancelled) {
    m_lastRequested.reset();
    emit cancelled();
  } else if (outcome.empty) {
    m_shown.reset();
    emit comparisonReady(nullptr);
    emit inputEmpty();
  } else if (outcome.snapshot) {
    m_shown = outcome.snapshot;
    if (outcome.computed) emit comparisonReady(outcome.comparison);
    emit snapshotReady(outcome.snapshot);
    // The head summary was changed while this was computed.
    if (m_lastRequested && !m_busy && outcome.snapshot->headSummary != m_lastRequested->display.headSummary)
      summarize(m_lastRequested->display.headSummary);
  } else {
    m_lastRequested.reset();  // asking again (after fixing a file, say) must compute again
    emit failed(outcome.field, outcome.message);
  }
}

void ComputeController::setBusy(bool busy) {
  if (busy == m_busy) return;
  m_busy = busy;
  emit busyChanged(busy);
}

}  // namespace attnscope::ui

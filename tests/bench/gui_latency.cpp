// GUI latency: the real MainWindow on the offscreen platform, 12 heads of head_dim 64 (d_in = d_out = 768,
// seeded embeddings), masks none and causal, weights shown, a text of n tokens. Each edit is a key event in
// the sentence editor, as a person types: a character added at the end, taken away again, or a character of a
// token in the middle replaced; each keeps n. Measured per edit: from the key event to the plot's repaint
// finished with the snapshot of the new text (QCustomPlot::afterReplot, then a forced repaint so the
// offscreen backing store really receives the pixels). A watchdog thread posts a timestamped event to the GUI
// thread every 2 ms; the longest delay before one was handled is the GUI thread's longest block. What it is
// made of: the slowest event's wall time beside the CPU time the GUI thread spent in it, the event that took
// the most CPU time, and the time the host took from the virtual machine during the edits (/proc/stat's
// steal): a block far longer than any event's work is the thread waiting, not working. The
// baseline, measured in the same run: the engine's compute time of the same snapshot (the floor an edit
// cannot beat on this backend), and latency / compute.
//
//   cmake --build BUILD --target gui_latency && BUILD/bin/gui_latency [--tokens 16,64,1024,4096] [--edits 20]
//       [--masks none,causal] [--heads 12] [--size 1600x1000] [--device cpu|cuda|auto] [--json FILE]
//       [--no-baseline] [--model DIR] [--edit-at start|middle|end]
//
// With --model DIR (a GPT-2 folder: a real gpt2, or the gpt2-shaped one `gpt2_speed --keep --dir DIR`
// writes), the window shows that model's layer 0 instead (--heads is the model's), --tokens count BPE tokens
// (the text is sized with the model's tokenizer: the table gives the count it reached), and the baseline is a
// full forward: the window's computation of the same snapshot from scratch (computeModelSnapshot without the
// worker's ModelCache: every layer, the overview and head statistics) and Gpt2Model::run alone, each the
// median of three. --edit-at puts every edit at one place: a character typed at the end of the text, of the
// middle word or of the first word, taken away again, then that word's first character replaced; without
// it, the edits are the default cycle above.
//
// Peak memory: run it under /usr/bin/time -v (Maximum resident set size); it prints VmHWM too.

#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QStandardPaths>
#include <QTest>
#include <QTextCursor>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "compute/model_snapshot.hpp"
#include "main_window.hpp"
#include "panels/sentence_editor.hpp"
#include "plot/heatmap_grid.hpp"
#include "plot/heatmap_plot.hpp"

namespace {

using namespace attnscope;
using namespace attnscope::ui;
using Clock = std::chrono::steady_clock;

double msBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The CPU time this thread has used, ms. On a virtual machine that accounts for the time its host takes
// (steal), that time is not in it: an event's wall time less this is the thread waiting, for a core, for a
// lock or for the host.
double threadCpuMs() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

// The time the host has taken from this virtual machine's cores so far (/proc/stat's steal, all cores), ms;
// 0 where it is not told.
double hostStealMs() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  long long fields[8] = {};
  if (!(stat >> cpu) || cpu != "cpu") return 0.0;
  for (long long& field : fields)
    if (!(stat >> field)) return 0.0;
  return static_cast<double>(fields[7]) * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Posted by the watchdog; the delay until the GUI thread handles it is how long that thread was busy.
class StampEvent : public QEvent {
 public:
  static QEvent::Type type() {
    static const auto registered = static_cast<QEvent::Type>(QEvent::registerEventType());
    return registered;
  }
  explicit StampEvent(Clock::time_point posted) : QEvent(type()), posted(posted) {}
  Clock::time_point posted;
};

class BlockMeter : public QObject {
 public:
  bool event(QEvent* event) override {
    if (event->type() != StampEvent::type()) return QObject::event(event);
    const double delay = msBetween(static_cast<StampEvent*>(event)->posted, Clock::now());
    worst = std::max(worst, delay);
    return true;
  }
  double worst = 0.0;
};

// Times every event the GUI thread dispatches from its event loop (not the ones sent from inside another):
// the slowest says what blocked it.
class TimedApplication : public QApplication {
 public:
  using QApplication::QApplication;
  bool notify(QObject* receiver, QEvent* event) override {
    if (m_depth++ > 0) {
      const bool handled = QApplication::notify(receiver, event);
      --m_depth;
      return handled;
    }
    const Clock::time_point start = Clock::now();
    const double startCpu = threadCpuMs();
    // The event, and the receiver (a deferred delete), may be gone once it is handled.
    const QEvent::Type type = event->type();
    const QPointer<QObject> alive(receiver);
    const char* const className = receiver->metaObject()->className();
    const bool handled = QApplication::notify(receiver, event);
    const double ms = msBetween(start, Clock::now()), cpu = threadCpuMs() - startCpu;
    --m_depth;
    const auto what = [&] {
      if (!alive)
        return QStringLiteral("%1 to a %2, deleted by it").arg(int(type)).arg(QLatin1String(className));
      const QObject* parent = receiver->parent();
      return QStringLiteral("%1 to %2 '%3' (child of %4)")
          .arg(int(type))
          .arg(QLatin1String(className), receiver->objectName(),
               parent ? QString::fromLatin1(parent->metaObject()->className()) : QStringLiteral("none"));
    };
    if (ms > slowest) {
      slowest = ms;
      slowestCpu = cpu;
      slowestWhat = what();
    }
    if (cpu > busiest) {
      busiest = cpu;
      busiestWhat = what();
    }
    return handled;
  }
  void reset() {
    slowest = slowestCpu = busiest = 0.0;
    slowestWhat.clear();
    busiestWhat.clear();
  }
  double slowest = 0.0, slowestCpu = 0.0;  // the longest event in wall time, and the CPU time it took
  QString slowestWhat;
  double busiest = 0.0;  // the event that took the most CPU time
  QString busiestWhat;

 private:
  int m_depth = 0;
};

class Watchdog {
 public:
  explicit Watchdog(BlockMeter* meter)
      : m_thread([this, meter] {
          while (!m_stop.load()) {
            QCoreApplication::postEvent(meter, new StampEvent(Clock::now()));
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          }
        }) {}
  ~Watchdog() {
    m_stop.store(true);
    m_thread.join();
  }

 private:
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

long peakResidentKb() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = 0;
  while (status >> key)
    if (key == "VmHWM:" && status >> value) return value;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
  return values[std::min(values.size() - 1, index)];
}

// n whitespace tokens from a seeded vocabulary of short words; with a model, words of it while its BPE gives
// at most n tokens.
QString textOf(int n, const Gpt2Model* model = nullptr) {
  std::mt19937 random(2024);
  std::uniform_int_distribution<int> letter('a', 'z');
  std::uniform_int_distribution<int> length(2, 7);
  std::vector<QString> vocabulary(512);
  for (QString& word : vocabulary) {
    const int size = length(random);
    for (int i = 0; i < size; ++i) word += QChar(letter(random));
  }
  std::uniform_int_distribution<std::size_t> pick(0, vocabulary.size() - 1);
  QStringList words;
  if (!model) {
    for (int i = 0; i < n; ++i) words << vocabulary[pick(random)];
    return words.join(QLatin1Char(' '));
  }
  // Words a few at a time, then one at a time near the end (each costs a tokenisation of the whole text).
  const auto tokens = [model](const QStringList& candidate) {
    return static_cast<int>(model->tokenizer().encode(candidate.join(QLatin1Char(' ')).toStdString()).size());
  };
  int count = 0, misses = 0, step = std::max(1, n / 4);
  while (count < n && misses < 64) {
    QStringList longer = words;
    for (int i = 0; i < step; ++i) longer << vocabulary[pick(random)];
    const int longerCount = tokens(longer);
    if (longerCount <= n) {
      words = longer;
      count = longerCount;
    } else if (step > 1) {
      step /= 2;
    } else {
      ++misses;
    }
  }
  return words.join(QLatin1Char(' '));
}

struct Result {
  int tokens = 0;
  std::vector<double> latencies, computes;
  double engine = 0.0;   // compute_attention over every mask, ms; 0 when not measured
  QString slowestEvent;  // the longest event the GUI thread dispatched, and to what
  double worstBlock = 0.0;
  double guiWork = 0.0;  // the most CPU time one event took on the GUI thread, ms
  QString busiestEvent;
  double hostSteal = 0.0;  // the time the host took from the machine's cores during the edits, ms
  long peakKb = 0;
  QSize mapPixels;
  QString note;
  int timeouts = 0;
  double modelRun = 0.0;  // with a model: Gpt2Model::run alone, ms
};

// Calls `painted` once the plot has painted, after being armed: the paint event Qt sends it (the plot asks
// for one when it replots) is handled here first, to time its end.
class PaintWatcher : public QObject {
 public:
  explicit PaintWatcher(std::function<void()> painted) : m_painted(std::move(painted)) {}
  void arm() { m_armed = true; }
  bool eventFilter(QObject* watched, QEvent* event) override {
    if (!m_armed || event->type() != QEvent::Paint) return false;
    m_armed = false;
    watched->event(event);
    m_painted();
    return true;
  }

 private:
  std::function<void()> m_painted;
  bool m_armed = false;
};

class Bench {
 public:
  Bench(MainWindow& window, BlockMeter& meter, TimedApplication& app, const Gpt2Model* model, QString editAt)
      : m_window(window),
        m_meter(meter),
        m_app(app),
        m_model(model),
        m_editAt(std::move(editAt)),
        m_paint([this] { finish(); }) {
    HeatmapPlot* plot = window.grid()->plot();
    plot->installEventFilter(&m_paint);
    QObject::connect(plot, &QCustomPlot::afterReplot, plot, [this, plot] {
      if (m_done || m_expected.isEmpty() || !plot->snapshot() || plot->snapshot()->text != m_expected) return;
      // The replot drew the buffers; the edit is done when they are painted, in the paint event it asked for
      // (or already, when the plot paints at once).
      if (plot->plottingHints().testFlag(QCP::phImmediateRefresh))
        finish();
      else
        m_paint.arm();
    });
  }

  // Waits until nothing is computing or being refined and the event queue is quiet.
  bool settle(int timeoutMs) {
    QElapsedTimer timer;
    timer.start();
    HeatmapPlot* plot = m_window.grid()->plot();
    while (timer.elapsed() < timeoutMs) {
      runEventLoop(20);
      if (!m_window.controller()->isBusy() && !plot->isRefining()) {
        runEventLoop(40);
        if (!m_window.controller()->isBusy() && !plot->isRefining()) return true;
      }
    }
    return false;
  }

  // Lets the event loop run for `ms` or until `done()`, sleeping only inside it, until an event comes (the
  // watchdog posts one every 2 ms). QTest::qWait sleeps 10 ms at a time outside the loop: a stamp posted then
  // measured the harness's sleep as a block of the window's. processEvents' overload with a time limit
  // ignores WaitForMoreEvents and returns at once when nothing is pending: waiting with it spun on one of the
  // two cores and the worker's second thread shared the other.
  static void runEventLoop(
      int ms, const std::function<bool()>& done = [] { return false; }) {
    QElapsedTimer timer;
    timer.start();
    while (!done() && timer.elapsed() < ms)
      QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
  }

  // A model's full forward for the same text, median of three: the window's computation from scratch (no
  // ModelCache), and Gpt2Model::run alone.
  std::pair<double, double> fullForwardMs(const ViewSettings& settings) const {
    const CancelToken never;
    PreparedMaps prepare;
    prepare.quantities = settings.display.quantities;
    prepare.reduction = settings.display.reduction;
    std::vector<double> snapshots, runs;
    const std::vector<BpeToken> tokens = m_model->tokenizer().tokenize(settings.text.toStdString());
    std::vector<int> ids;
    for (const BpeToken& token : tokens) ids.push_back(token.id);
    for (int repeat = 0; repeat < 3; ++repeat) {
      Clock::time_point start = Clock::now();
      computeModelSnapshot(settings, *m_model, never, prepare);
      snapshots.push_back(msBetween(start, Clock::now()));
      start = Clock::now();
      m_model->run(ids);
      runs.push_back(msBetween(start, Clock::now()));
    }
    return {percentile(snapshots, 0.5), percentile(runs, 0.5)};
  }

  // The engine alone for the same text: compute_attention per mask, as the window's worker once called it.
  static double engineMs(const ViewSettings& settings) {
    const AttentionInput input = AttentionInput::fromSettings(settings);
    const auto backend = make_backend(settings.device);
    const CancelToken never;
    const Clock::time_point start = Clock::now();
    for (const MaskSpec& mask : input.masks) {
      AttentionConfig config = input.config;
      config.mask = mask;
      compute_attention(config, input.embeddings, *backend, never);
    }
    return msBetween(start, Clock::now());
  }

  // One key event; true when the new snapshot was painted before the timeout.
  bool edit(int index, double* latency, double* compute) {
    SentenceEditor* editor = m_window.editor();
    editor->setFocus();
    QTextCursor cursor = editor->textCursor();
    const int kind = index % 3;
    Qt::Key key = Qt::Key_X;
    if (!m_editAt.isEmpty()) {
      // Every edit at one word: the last, the middle or the first.
      const QStringList words = editor->text().split(QLatin1Char(' '));
      const int word = m_editAt == QLatin1String("end")      ? static_cast<int>(words.size()) - 1
                       : m_editAt == QLatin1String("middle") ? static_cast<int>(words.size()) / 2
                                                             : 0;
      int start = 0;
      for (int i = 0; i < word; ++i) start += static_cast<int>(words[i].size()) + 1;
      const int end = start + static_cast<int>(words[word].size());
      if (kind == 0) {  // type a character at the end of the word
        cursor.setPosition(end);
      } else if (kind == 1) {  // and take it away
        cursor.setPosition(end);
        key = Qt::Key_Backspace;
      } else {  // replace the word's first character
        cursor.setPosition(start);
        cursor.setPosition(start + 1, QTextCursor::KeepAnchor);
        key = words[word].startsWith(QLatin1Char('q')) ? Qt::Key_Z : Qt::Key_Q;
      }
    } else if (kind == 0) {  // add a character to the last token
      cursor.movePosition(QTextCursor::End);
    } else if (kind == 1) {  // and take it away
      cursor.movePosition(QTextCursor::End);
      key = Qt::Key_Backspace;
    } else {  // replace the first character of the middle token
      const QStringList words = editor->text().split(QLatin1Char(' '));
      int position = 0;
      const auto middle = static_cast<int>(words.size()) / 2;  // n / 2 without a model
      for (int i = 0; i < middle; ++i) position += static_cast<int>(words[i].size()) + 1;
      cursor.setPosition(position);
      cursor.setPosition(position + 1, QTextCursor::KeepAnchor);
      key = words[middle].startsWith(QLatin1Char('q')) ? Qt::Key_Z : Qt::Key_Q;
    }
    editor->setTextCursor(cursor);
    m_done = false;
    const QString before = editor->text();
    const Clock::time_point start = Clock::now();
    QTest::keyClick(editor, key);
    m_expected = editor->text();
    if (m_expected == before) qFatal("the key event did not change the text");
    runEventLoop(120000, [this] { return m_done; });
    m_expected.clear();
    if (!m_done) return false;
    *latency = msBetween(start, m_end);
    *compute = m_window.grid()->plot()->snapshot()->computeMs;
    return true;
  }

  Result run(int n, int warmup, int edits, bool baseline) {
    Result result;
    result.tokens = n;
    ViewSettings settings = m_window.model()->settings();
    settings.text = textOf(n, m_model);
    m_window.model()->setSettings(settings);
    if (!settle(600000)) qFatal("the first computation at n = %d did not finish", n);
    if (m_model) {
      const SnapshotPointer shown = m_window.grid()->plot()->snapshot();
      if (!shown) qFatal("no snapshot at n = %d: %s", n, qPrintable(m_window.statusSummary()));
      result.tokens = shown->tokenCount();
    }
    for (int i = 0; i < warmup + edits; ++i) {
      if (i == warmup) {
        m_meter.worst = 0.0;
        m_app.reset();
        result.hostSteal = hostStealMs();
      }
      double latency = 0.0, compute = 0.0;
      if (!edit(i, &latency, &compute)) {
        ++result.timeouts;
      } else if (i >= warmup) {
        result.latencies.push_back(latency);
        result.computes.push_back(compute);
      }
      settle(600000);
    }
    result.hostSteal = hostStealMs() - result.hostSteal;
    result.worstBlock = m_meter.worst;
    result.slowestEvent = QStringLiteral("%1 ms (%2 ms of it on a core): event %3")
                              .arg(m_app.slowest, 0, 'f', 1)
                              .arg(m_app.slowestCpu, 0, 'f', 1)
                              .arg(m_app.slowestWhat);
    result.guiWork = m_app.busiest;
    result.busiestEvent = m_app.busiestWhat;
    result.peakKb = peakResidentKb();
    HeatmapPlot* plot = m_window.grid()->plot();
    if (plot->mapCount() > 0) {
      result.mapPixels = plot->mapRect(0)->rect().size();
      result.note = plot->reductionNote(0);
    }
    if (baseline && m_model)
      std::tie(result.engine, result.modelRun) = fullForwardMs(m_window.model()->settings());
    else if (baseline)
      result.engine = engineMs(m_window.model()->settings());
    return result;
  }

 private:
  void finish() {
    m_end = Clock::now();
    m_done = true;
  }

  MainWindow& m_window;
  BlockMeter& m_meter;
  TimedApplication& m_app;
  QString m_expected;
  bool m_done = false;
  Clock::time_point m_end;
  const Gpt2Model* m_model = nullptr;
  QString m_editAt;
  PaintWatcher m_paint;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"AttnScope GUI latency: edit to heatmaps painted, in the real window, offscreen"};
  std::vector<int> sizes{16, 64, 1024, 4096};
  int edits = 20, warmup = 2, heads = 12;
  std::string masks = "none,causal", size = "1600x1000", device = "cpu", jsonPath;
  bool noBaseline = false;
  std::string modelFolder, editAt;
  cli.add_option("--tokens", sizes, "text lengths, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 16384));
  cli.add_option("--edits", edits, "measured edits per length")->check(CLI::Range(1, 10000));
  cli.add_option("--warmup", warmup, "edits before measuring")->check(CLI::Range(0, 100));
  cli.add_option("--heads", heads, "heads (head_dim 64: d_out = 64 x heads)")->check(CLI::Range(1, 64));
  cli.add_option("--masks", masks, "masks, comma-separated (none, causal, window:K, prefix:K)");
  cli.add_option("--size", size, "window size, WxH");
  cli.add_option("--device", device, "cpu, cuda or auto");
  cli.add_option("--json", jsonPath, "also write the results as JSON to this file");
  cli.add_flag(
      "--no-baseline", noBaseline,
      "skip compute_attention after each length (it holds every mask's matrices: not for memory runs)");
  cli.add_option("--model", modelFolder,
                 "a GPT-2 folder: the window shows its layer 0, --tokens are BPE tokens");
  cli.add_option("--edit-at", editAt,
                 "where every edit happens: start, middle or end (the first, middle or last word)")
      ->check(CLI::IsMember({"start", "middle", "end"}));
  CLI11_PARSE(cli, argc, argv);

  int windowWidth = 0, windowHeight = 0;
  if (std::sscanf(size.c_str(), "%dx%d", &windowWidth, &windowHeight) != 2 || windowWidth < 200 ||
      windowHeight < 200) {
    std::fprintf(stderr, "gui_latency: --size must be WxH, each at least 200 (got '%s')\n", size.c_str());
    return 2;
  }
  ViewSettings settings = ViewSettings::defaults();
  try {
    settings.masks.clear();
    for (const QString& mask : QString::fromStdString(masks).split(QLatin1Char(',')))
      settings.masks.push_back(MaskSpec::parse(mask.trimmed().toStdString()));
    settings.device = parse_device(device);
  } catch (const Error& error) {
    std::fprintf(stderr, "gui_latency: %s\n", error.what());
    return 2;
  }
  settings.tokenizer = TokenizerKind::whitespace;
  settings.embeddingSource = EmbeddingSource::seeded;
  settings.dIn = 768;
  settings.dOut = 64 * heads;
  settings.heads = heads;
  settings.mechanism = Mechanism::multihead;
  settings.display.quantities = {Quantity::weights};

  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  int qtArgc = 1;
  TimedApplication app(qtArgc, argv);
  QStandardPaths::setTestModeEnabled(true);  // QSettings of a test profile, not the user's

  std::optional<Gpt2Model> model;
  if (!modelFolder.empty()) {
    try {
      model = openModel(QString::fromStdString(modelFolder));
    } catch (const std::exception& error) {
      std::fprintf(stderr, "gui_latency: %s\n", error.what());
      return 2;
    }
    settings.modelFolder = QFileInfo(QString::fromStdString(modelFolder)).absoluteFilePath();
    settings.layer = 0;
    heads = model->config().n_head;
  }
  settings.text = textOf(sizes.front(), model ? &*model : nullptr);

  BlockMeter meter;
  MainWindow window(settings);
  window.resize(windowWidth, windowHeight);
  window.show();
  Watchdog watchdog(&meter);
  Bench bench(window, meter, app, model ? &*model : nullptr, QString::fromStdString(editAt));

  std::printf(
      "AttnScope GUI latency: %d heads x head_dim 64, masks %s, weights, window %dx%d, %s, %d edits "
      "(+%d warm-up) per length%s%s%s\n",
      heads, masks.c_str(), windowWidth, windowHeight, QGuiApplication::platformName().toUtf8().constData(),
      edits, warmup, model ? qPrintable(QStringLiteral(", model %1 layer 0").arg(settings.modelFolder)) : "",
      editAt.empty() ? "" : ", edits at the ", editAt.c_str());
  if (model)
    std::printf(
        "with a model: tokens are BPE tokens; engine = the window's computation from scratch (a full forward "
        "with every layer's overview and statistics), run = Gpt2Model::run alone, medians of three\n");
  std::printf(
      "latency = key event to the heatmaps repainted with the new snapshot; worker = its engine work (the "
      "floor); engine = compute_attention over the masks, drawing the parameters (the old path); GUI blk = "
      "the GUI thread's longest block during the edits (on a virtual machine, time its host takes is in it: "
      "host steal)\n\n");
  std::printf("%7s %8s %8s %8s %9s %9s %8s %8s %9s %10s %9s  %s\n", "tokens", "p50 ms", "p95 ms", "max ms",
              "worker ms", "engine ms", "p50/wkr", "p50/eng", "GUI blk", "map px", "peak MiB", "reduction");
  QJsonArray rows;
  for (const int requested : sizes) {
    const Result result = bench.run(requested, warmup, edits, !noBaseline);
    const int n = result.tokens;
    const double p50 = percentile(result.latencies, 0.5), p95 = percentile(result.latencies, 0.95);
    const double worst = percentile(result.latencies, 1.0), compute = percentile(result.computes, 0.5);
    const QString pixels =
        QStringLiteral("%1x%2").arg(result.mapPixels.width()).arg(result.mapPixels.height());
    std::printf("%7d %8.1f %8.1f %8.1f %9.1f %9.1f %8.2f %8.2f %9.1f %10s %9.0f  %s%s\n", n, p50, p95, worst,
                compute, result.engine, compute > 0 ? p50 / compute : 0.0,
                result.engine > 0 ? p50 / result.engine : 0.0, result.worstBlock, pixels.toUtf8().constData(),
                result.peakKb / 1024.0, result.note.isEmpty() ? "none" : result.note.toUtf8().constData(),
                result.timeouts ? qPrintable(QStringLiteral(" (%1 timed out)").arg(result.timeouts)) : "");
    std::printf("        slowest GUI event: %s\n", qPrintable(result.slowestEvent));
    std::printf(
        "        most GUI work in one event: %.1f ms on a core: event %s; host steal during the edits: %.0f "
        "ms\n",
        result.guiWork, qPrintable(result.busiestEvent), result.hostSteal);
    if (model)
      std::printf(
          "        full forward: window's computation %.1f ms, Gpt2Model::run %.1f ms; p95 / full = %.2f\n",
          result.engine, result.modelRun, result.engine > 0 ? p95 / result.engine : 0.0);
    std::fflush(stdout);
    QJsonObject row;
    row[QStringLiteral("tokens")] = n;
    row[QStringLiteral("p50_ms")] = p50;
    row[QStringLiteral("p95_ms")] = p95;
    row[QStringLiteral("max_ms")] = worst;
    row[QStringLiteral("compute_p50_ms")] = compute;
    row[QStringLiteral("latency_over_compute")] = compute > 0 ? p50 / compute : 0.0;
    row[QStringLiteral("engine_compute_attention_ms")] = result.engine;
    row[QStringLiteral("latency_over_engine")] = result.engine > 0 ? p50 / result.engine : 0.0;
    row[QStringLiteral("gui_block_max_ms")] = result.worstBlock;
    row[QStringLiteral("slowest_gui_event")] = result.slowestEvent;
    row[QStringLiteral("gui_work_max_ms")] = result.guiWork;
    row[QStringLiteral("busiest_gui_event")] = result.busiestEvent;
    row[QStringLiteral("host_steal_ms")] = result.hostSteal;
    row[QStringLiteral("peak_rss_mib")] = result.peakKb / 1024.0;
    row[QStringLiteral("map_pixels")] = pixels;
    row[QStringLiteral("reduction")] = result.note;
    row[QStringLiteral("timeouts")] = result.timeouts;
    if (model) {
      row[QStringLiteral("full_forward_ms")] = result.engine;
      row[QStringLiteral("model_run_ms")] = result.modelRun;
      row[QStringLiteral("edit_at")] = QString::fromStdString(editAt.empty() ? "default" : editAt);
    }
    QJsonArray latencies;
    for (const double latency : result.latencies) latencies.append(latency);
    row[QStringLiteral("latencies_ms")] = latencies;
    rows.append(row);
  }
  if (!jsonPath.empty()) {
    QFile file(QString::fromStdString(jsonPath));
    if (!file.open(QIODevice::WriteOnly) || file.write(QJsonDocument(rows).toJson()) < 0) {
      std::fprintf(stderr, "gui_latency: cannot write %s\n", jsonPath.c_str());
      return 1;
    }
  }
  window.close();
  return 0;
}

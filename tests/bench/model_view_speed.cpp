// What the window's worker does for each edit while a GPT-2 model is open: tokenize, run the model once per
// distinct mask, reduce every layer × head for the overview, keep the chosen layer and build its maps'
// cells (computeModelSnapshot), for texts of the given token counts; with the time to open the folder and
// the resident memory after each step. Then five edits through the worker's ModelCache, one run each, with
// the positions each recomputed.
//
//   cmake --build BUILD --target model_view_speed && BUILD/bin/model_view_speed DIR [TOKENS...]
//
// DIR is a GPT-2 folder (a real gpt2, or one gpt2_speed --keep wrote); TOKENS default to 20 and 1024.

#include <QCoreApplication>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "compute/model_snapshot.hpp"

namespace {

using namespace attnscope;
using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// VmRSS (now) or VmHWM (the peak so far), in MB.
long residentMb(const std::string& field = "VmRSS:") {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size())) / 1024;
  return -1;
}

// Words of the book's sentence repeated until the model's tokenizer gives `count` tokens (or one more word
// would pass it).
QString textOf(const Gpt2Model& model, int count) {
  static const char* words[] = {"Your", " journey", " starts", " with", " one", " step"};
  std::string text;
  for (int i = 0;; ++i) {
    const std::string longer = text + words[i % 6];
    if (static_cast<int>(model.tokenizer().encode(longer).size()) > count) break;
    text = longer;
  }
  return QString::fromStdString(text);
}

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication application(argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: model_view_speed DIR [TOKENS...]\n");
    return 2;
  }
  std::vector<int> counts;
  for (int i = 2; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (counts.empty()) counts = {20, 1024};
  try {
    std::printf("resident before opening: %ld MB\n", residentMb());
    const auto opening = Clock::now();
    const Gpt2Model model = ui::openModel(QString::fromLocal8Bit(argv[1]));
    std::printf("open: %.0f ms, resident %ld MB\n", msSince(opening), residentMb());
    for (const int count : counts) {
      ui::ViewSettings settings = ui::ViewSettings::defaults();
      settings.modelFolder = QString::fromLocal8Bit(argv[1]);
      settings.text = textOf(model, count);
      const CancelToken never;
      double best = 1e300, bestRun = 1e300;
      int tokens = 0;
      for (int repeat = 0; repeat < 5; ++repeat) {
        const auto start = Clock::now();
        const ui::SnapshotPointer snapshot =
            ui::computeModelSnapshot(settings, model, never, {settings.display.quantities});
        best = std::min(best, msSince(start));
        tokens = snapshot->tokenCount();
        const auto run = Clock::now();
        model.run(model.tokenizer().encode(settings.text.toStdString()));
        bestRun = std::min(bestRun, msSince(run));
      }
      std::printf(
          "%d tokens, masks none+causal (one run), weights: best of 5 %.0f ms (Gpt2Model::run "
          "alone %.0f ms), resident %ld MB, peak %ld MB\n",
          tokens, best, bestRun, residentMb(), residentMb("VmHWM:"));
      // The same edits through the worker's ModelCache: the first word replaced (every position again) and
      // back, the last word taken away and put back (n changes), a letter of the last word replaced.
      ui::ModelCache cache;
      ui::computeModelSnapshot(settings, model, never, {settings.display.quantities}, setting_name, &cache);
      const QString text = settings.text;
      const auto timed = [&](const QString& edited) {
        settings.text = edited;
        const auto start = Clock::now();
        const ui::SnapshotPointer snapshot = ui::computeModelSnapshot(
            settings, model, never, {settings.display.quantities}, setting_name, &cache);
        return std::pair(msSince(start), snapshot->model->recomputedPositions);
      };
      for (const auto& [what, edited] :
           {std::pair("first word replaced", QStringLiteral("Our") + text.mid(4)),
            std::pair("first word back", text),
            std::pair("last word taken away", text.left(text.lastIndexOf(QLatin1Char(' ')))),
            std::pair("and put back", text),
            std::pair("a letter typed into the last word",
                      text.left(text.size() - 1) + QStringLiteral("x"))}) {
        const auto [ms, recomputed] = timed(edited);
        std::printf("  with the cache, %s: %.0f ms, %d positions recomputed\n", what, ms, recomputed);
      }
      settings.text = text;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "model_view_speed: %s\n", error.what());
    return 1;
  }
  return 0;
}

#include "gui/command_line.hpp"

#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStringList>
#include <limits>

#include "compute/attention_input.hpp"
#include "compute/attention_snapshot.hpp"
#include "compute/comparison.hpp"
#include "compute/model_snapshot.hpp"
#include "export/exporter.hpp"
#include "export/figure_preset.hpp"
#include "plot/compare_plot.hpp"
#include "session/session_file.hpp"
#include "text.hpp"

namespace attnscope::app {

using namespace attnscope::ui;

void CommandLine::addOptions(CLI::App& app) {
  app.add_option("session", m_session, "A .attnscope session to open (flags given as well change it)");
  cli::add_compute_options(app, m_flags, /*with_mask=*/false);
  // The app's defaults are the launch view's, not attnscope-cli's.
  app.get_option("--mechanism")
      ->description(
          "multihead (default), multihead-wrapper, causal, self-attention, self-attention-v1 or simplified");
  app.get_option("--d-out")->description("Output width (per head for multihead-wrapper; default 4)");
  app.add_option(
      "--masks", m_flags.masks,
      "Masks to compare, one grid row each: none, causal, window:W, prefix:P, file:PATH, comma-separated "
      "(default none,causal)");
  cli::add_model_options(app, m_flags);
  // The window shows one layer at a time (the overview shows them all): --layer, not attnscope-cli's
  // --layers.
  app.remove_option(app.get_option("--layers"));
  CLI::Option* model = app.get_option("--model");
  model->description(
      "A GPT-2 folder (config.json, model.safetensors, vocab.json, merges.txt): show its attention for the "
      "text instead of a chapter 3 mechanism");
  app.add_option("--layer", m_layer, "With --model: the layer the grid shows (0-based, default 0)")
      ->needs(model);
  app.add_option("--head-summary", m_headSummary,
                 "An extra map per mask row: none (default), mean or max of the heads, or with --model the "
                 "attention rollout up to --layer")
      ->check(CLI::IsMember({"none", "mean", "max", "rollout"}));
  app.add_option("--show", m_show, "What the maps show: weights (default), scores or both")
      ->check(CLI::IsMember({"weights", "scores", "both"}));
  app.add_flag("--stats", m_stats,
               "Print each head's statistics under its map's title (H bits, self, prev, first); the window "
               "shows them by default, an --export only with --stats or a session saved with them on");
  app.add_option(
      "--compare-text", m_compareText,
      "TEXT: compare with TEXT under the same settings (View \u25b8 Compare): per head, A \u2212 B over "
      "the first min(n_A, n_B) tokens; with --export, the comparison's grid is the image");
  app.add_option("--export", m_export, "Render the grid to FILE.png, .svg or .pdf and exit (no window)");
  CLI::Option* size =
      app.add_option("--size", m_size, "Image size WIDTHxHEIGHT in pixels (PDF: points), e.g. 1600x1000");
  app.add_option(
         "--figure", m_figure,
         "A physical size instead of --size: slide (16:9, 1920x1080 px), column (3.5 in at 300 dpi) or "
         "page (7 in at 300 dpi); PDF and SVG pages have that size in points")
      ->check(CLI::IsMember({"slide", "column", "page"}))
      ->excludes(size);
}

void CommandLine::noteGiven(const CLI::App& app) {
  m_given.clear();
  for (const CLI::Option* option : app.get_options())
    if (option->count() > 0) m_given.insert(option->get_name());
}

std::optional<QSize> CommandLine::size() const {
  if (!given("--size")) return std::nullopt;
  static const QRegularExpression pattern(QStringLiteral("^(\\d{1,5})[xX](\\d{1,5})$"));
  const QRegularExpressionMatch match = pattern.match(QString::fromStdString(m_size));
  const int width = match.hasMatch() ? match.captured(1).toInt() : 0;
  const int height = match.hasMatch() ? match.captured(2).toInt() : 0;
  if (width < 16 || height < 16 || width > 16384 || height > 16384)
    throw Error("--size '" + m_size + "' must be WIDTHxHEIGHT, each from 16 to 16384, e.g. 1600x1000");
  return QSize(width, height);
}

namespace {

// The flags settings() maps; a compute flag added to attnscope-cli later is refused until the app maps it,
// rather than silently ignored.
const std::set<std::string>& handledFlags() {
  static const std::set<std::string> flags{
      "session",          "--text",         "--preset",       "--embeddings", "--tokenizer",   "--d-in",
      "--embedding-seed", "--mechanism",    "--d-out",        "--heads",      "--qkv-bias",    "--dropout",
      "--seed",           "--dropout-seed", "--normalize",    "--max-tokens", "--device",      "--masks",
      "--show",           "--export",       "--size",         "--figure",     "--help",        "--version",
      "--model",          "--layer",        "--head-summary", "--stats",      "--compare-text"};
  return flags;
}

}  // namespace

ViewSettings CommandLine::settings() const {
  for (const std::string& flag : m_given)
    if (!handledFlags().count(flag))
      throw Error(flag + " is not supported by the attnscope app yet; use attnscope-cli compute " + flag);
  ViewSettings settings = given("session") ? SessionFile::load(sessionPath()) : ViewSettings::defaults();
  settings.setRequest(cli::apply_flags(m_flags, settings.request()));
  if (m_flags.model) {
    const QFileInfo folder(toQString(*m_flags.model));
    if (!folder.isDir())
      throw Error(*m_flags.model +
                  ": no such folder (a GPT-2 folder holds config.json, "
                  "model.safetensors, vocab.json and merges.txt)");
    settings.modelFolder = folder.absoluteFilePath();
    settings.layer = m_layer;
    if (m_layer < 0) throw Error("--layer " + std::to_string(m_layer) + " must be 0 or more");
  }
  if (given("--head-summary"))
    for (const HeadSummary summary :
         {HeadSummary::none, HeadSummary::mean, HeadSummary::max, HeadSummary::rollout})
      if (toString(summary).toStdString() == m_headSummary) settings.display.headSummary = summary;
  if (settings.display.headSummary == HeadSummary::rollout && settings.modelFolder.isEmpty())
    throw Error(
        "--head-summary rollout needs --model DIR: rollout follows attention through a model's layers, and a "
        "chapter 3 mechanism has one");
  if (given("--stats")) settings.display.statReadouts = true;
  if (given("--compare-text")) settings.compareText = QString::fromStdString(m_compareText);
  if (given("--show")) {
    if (m_show == "scores")
      settings.display.quantities = {Quantity::rawScores};
    else if (m_show == "both")
      settings.display.quantities = {Quantity::rawScores, Quantity::weights};
    else
      settings.display.quantities = {Quantity::weights};
  }
  return settings;
}

void CommandLine::exportImage() const {
  ViewSettings viewSettings = settings();
  // Headless exports keep their output of before the readouts existed: readouts only when asked for, or when
  // the session file says so.
  if (!given("--stats") && !given("session")) viewSettings.display.statReadouts = false;
  const QString path = exportPath();
  const ImageFormat format = Exporter::formatFor(path);
  const auto preset = FigurePresets::parse(QString::fromStdString(m_figure));
  const ImageRequest request = given("--figure") && preset ? FigurePresets::request(*preset, format)
                                                           : ImageRequest(format, size().value_or(QSize()));
  const CancelToken never;
  // With a compare text, A keeps the weights the comparison reads.
  PreparedMaps prepare;
  if (viewSettings.compareText) prepare.keptBytes = std::numeric_limits<double>::infinity();
  SnapshotPointer snapshot;
  std::optional<Gpt2Model> model;
  std::unique_ptr<Backend> backend;
  if (!viewSettings.modelFolder.isEmpty()) {
    model = openModel(viewSettings.modelFolder);
    snapshot = computeModelSnapshot(viewSettings, *model, never, prepare, cli::flag_name);
    if (!snapshot) throw Error("the text is empty: give --text with at least one word");
  } else {
    const AttentionInput input = AttentionInput::fromSettings(viewSettings, cli::flag_name);
    if (input.tokens.empty()) throw Error("the text is empty: give --text with at least one word");
    cli::check_flags_against(m_flags, input.embeddings);
    backend = make_backend(viewSettings.device);
    snapshot = computeSnapshot(input, *backend, never, prepare);
  }
  if (!viewSettings.compareText) {
    Exporter::exportImage(snapshot, viewSettings.display, std::nullopt, request, path);
    return;
  }
  // attnscope-cli compute --compare-text's messages, so that both tools say the same about B.
  const std::string empty = "--compare-text: the text is empty: type at least one word";
  if (viewSettings.compareText->trimmed().isEmpty()) throw Error(empty);
  InputBResources resources;
  resources.backend = backend.get();
  resources.model = model ? &*model : nullptr;
  SnapshotPointer b;
  try {
    b = computeInputB(viewSettings, resources, never, cli::flag_name);
  } catch (const Error& error) {
    throw Error(std::string("--compare-text: ") + error.what());
  }
  if (!b) throw Error(empty);
  Exporter::writeFile(path, Exporter::encode(ComparePlot::record(compareSnapshots(snapshot, b),
                                                                 viewSettings.display, request)));
}

}  // namespace attnscope::app

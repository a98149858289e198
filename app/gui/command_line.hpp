#pragma once
// attnscope's command line: attnscope-cli compute's engine flags plus --masks, --show, --export, --size and
// --figure (slide, column, page),
// and --model DIR with --layer L and --head-summary for a GPT-2 folder; --stats prints each head's statistics
// under its map (an export without it has none, unless a session file turns them on); --compare-text B opens
// the window comparing with B, or exports the comparison's grid (A − B per head) instead of the heatmaps.
// Flags that are not given keep the app's defaults (the launch view: the book's sentence, multi-head, 2
// heads, d_out 4, masks none and causal, weights), so `attnscope --export x.png` renders what the window
// first shows. The engine flags go through attnscope-cli's own translation (cli::apply_flags) on top of that
// view's request, so each means what it means to attnscope-cli.

#include <CLI/CLI.hpp>
#include <QSize>
#include <optional>
#include <set>
#include <string>

#include "state/view_settings.hpp"
#include "support/compute_flags.hpp"

namespace attnscope::app {

class CommandLine {
 public:
  void addOptions(CLI::App& app);
  // Call after a successful parse: remembers which flags were given.
  void noteGiven(const CLI::App& app);

  bool wantsExport() const { return m_export.has_value(); }
  bool anyGiven() const { return !m_given.empty(); }
  // Only a session file was given (`attnscope FILE.attnscope`, as a file manager opens one).
  bool onlySession() const { return m_given.size() == 1 && given("session"); }
  QString sessionPath() const { return QString::fromStdString(m_session); }
  QString exportPath() const { return QString::fromStdString(m_export.value_or(std::string())); }

  // Throw attnscope::Error with a one-line reason.
  ui::ViewSettings settings() const;
  std::optional<QSize> size() const;
  // Renders the grid to --export (format from its suffix) and returns; throws attnscope::Error.
  void exportImage() const;

 private:
  bool given(const char* flag) const { return m_given.count(flag) > 0; }

  cli::ComputeFlags m_flags;
  std::string m_show = "weights";
  std::optional<std::string> m_export;
  std::string m_size;
  std::string m_figure;
  std::string m_session;
  int m_layer = 0;
  std::string m_headSummary = "none";
  bool m_stats = false;
  std::string m_compareText;
  std::set<std::string> m_given;
};

}  // namespace attnscope::app

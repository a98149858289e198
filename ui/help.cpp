#include "help.hpp"

#include <QAction>
#include <QApplication>
#include <QMenu>
#include <QMessageBox>

namespace attnscope::ui {

void showShortcuts(QWidget* parent) {
  QMessageBox::information(
      parent, QObject::tr("Keyboard and Mouse"),
      QObject::tr(
          "<table cellspacing='6'>"
          "<tr><td><b>Type</b></td><td>every edit recomputes the heatmaps</td></tr>"
          "<tr><td><b>Hover a cell</b></td><td>its query and key tokens, raw and scaled score, weight; the "
          "row and "
          "column light up in every map and the query is highlighted in the sentence</td></tr>"
          "<tr><td><b>Hover a token</b></td><td>its row and column in every map</td></tr>"
          "<tr><td><b>Click a cell or token</b></td><td>select that query: the panel on the right explains "
          "it</td></tr>"
          "<tr><td><b>\u2191 / \u2193</b></td><td>previous / next query (click the grid first)</td></tr>"
          "<tr><td><b>Ctrl+L</b></td><td>edit the sentence</td></tr>"
          "<tr><td><b>Esc</b></td><td>cancel a long computation</td></tr>"
          "<tr><td><b>Ctrl+0</b></td><td>fit every head into the window / readable maps that scroll</td></tr>"
          "<tr><td><b>Ctrl+E</b></td><td>export an image (PNG, SVG, PDF)</td></tr>"
          "<tr><td><b>Ctrl+Shift+C</b></td><td>copy the heatmaps as an image</td></tr>"
          "<tr><td><b>Ctrl+O / Ctrl+S</b></td><td>open / save a session</td></tr>"
          "<tr><td><b>Ctrl+Shift+O</b></td><td>open a GPT-2 folder; click a map of the model overview to "
          "show its layer and head in the grid</td></tr>"
          "<tr><td><b>Numbers</b></td><td>heads and layers count from 0 (head 0, layer 0), as in the "
          "exports and attnscope-cli's JSON</td></tr>"
          "</table>"));
}

void showAbout(QWidget* parent) {
  QMessageBox::about(
      parent, QObject::tr("About AttnScope"),
      QObject::tr(
          "<h3>AttnScope %1</h3><p>Type a sentence and watch the attention mechanisms of chapter 3 of "
          "<i>Build a Large Language Model (From Scratch)</i> work, with exactly the numbers PyTorch "
          "prints for the same seed.</p>")
          .arg(QApplication::applicationVersion()));
}

void fillHelpMenu(QMenu* menu, QWidget* parent) {
  QAction* shortcuts = menu->addAction(QObject::tr("&Keyboard and Mouse"));
  shortcuts->setShortcut(QKeySequence::HelpContents);
  QObject::connect(shortcuts, &QAction::triggered, parent, [parent] { showShortcuts(parent); });
  QAction* about = menu->addAction(QObject::tr("&About AttnScope"));
  about->setMenuRole(QAction::AboutRole);
  QObject::connect(about, &QAction::triggered, parent, [parent] { showAbout(parent); });
}

}  // namespace attnscope::ui

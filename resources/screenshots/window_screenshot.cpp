// Takes the README's screenshots of the window: the real MainWindow, laid out at a given size without a
// display (Qt's offscreen platform), computed, then grabbed to a PNG.
// resources/screenshots/make_screenshots.sh runs it for each picture.

#include <CLI/CLI.hpp>
#include <QApplication>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QPixmap>
#include <QTest>
#include <iostream>
#include <string>

#include "attnscope/error.hpp"
#include "compute/compute_controller.hpp"
#include "main_window.hpp"
#include "panels/geometry_panel.hpp"
#include "panels/heads_panel.hpp"
#include "plot/heatmap_grid.hpp"
#include "resources.hpp"
#include "state/scope_model.hpp"

namespace {

bool waitForIdle(attnscope::ui::ComputeController* controller) {
  QElapsedTimer timer;
  timer.start();
  do {
    QTest::qWait(50);
  } while (controller->isBusy() && timer.elapsed() < 60000);
  QTest::qWait(300);  // the maps' refinement and the docks' layout
  return !controller->isBusy();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Grabs the AttnScope window to a PNG for the README.", "window_screenshot"};
  std::string out, size = "1600x1000", text, compareText, model;
  int heads = 0, dOut = 0, query = -1, probe = -1;
  bool fit = false, headsDock = false, geometryDock = false;
  app.add_option("out", out, "The PNG to write")->required();
  app.add_option("--size", size, "The window's size, WIDTHxHEIGHT");
  app.add_option("--text", text, "The sentence (default: the book's)");
  app.add_option("--compare-text", compareText, "Compare the sentence with this text B");
  app.add_option("--model", model, "A GPT-2 folder to open");
  app.add_option("--heads", heads, "Heads of the chapter 3 multi-head mechanism");
  app.add_option("--d-out", dOut, "Its d_out");
  app.add_option("--query", query, "The selected query (0-based)");
  app.add_option("--probe", probe, "The probed key (0-based)");
  app.add_flag("--fit", fit, "Fit All Heads");
  app.add_flag("--heads-dock", headsDock, "Bring the Heads dock to the front");
  app.add_flag("--geometry-dock", geometryDock, "Bring the Geometry dock to the front");
  CLI11_PARSE(app, argc, argv);

  qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication application(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("AttnScope-screenshots"));  // not the user's settings
  QApplication::setApplicationName(QStringLiteral("AttnScope-screenshots"));
  attnscope::ui::initResources();
  const auto separator = size.find('x');
  const QSize windowSize(std::stoi(size.substr(0, separator)), std::stoi(size.substr(separator + 1)));

  using namespace attnscope::ui;
  ViewSettings settings = ViewSettings::defaults();
  if (!text.empty()) settings.text = QString::fromStdString(text);
  if (!compareText.empty()) settings.compareText = QString::fromStdString(compareText);
  if (heads > 0) settings.heads = heads;
  if (dOut > 0) settings.dOut = dOut;
  MainWindow window(settings);
  window.resize(windowSize);
  window.show();
  if (!waitForIdle(window.controller())) {
    std::cerr << "window_screenshot: the computation did not finish\n";
    return 1;
  }
  if (!model.empty()) {
    window.openModel(QString::fromStdString(model));
    waitForIdle(window.controller());
  }
  window.grid()->setFitAllHeads(fit);
  if (query >= 0) window.model()->selectQuery(query);
  if (probe >= 0) window.model()->setProbeKey(probe);
  QWidget* front = headsDock      ? static_cast<QWidget*>(window.heads())
                   : geometryDock ? static_cast<QWidget*>(window.geometry())
                                  : nullptr;
  if (auto* dock = front ? qobject_cast<QDockWidget*>(front->parentWidget()) : nullptr) dock->raise();
  waitForIdle(window.controller());
  const QImage image = window.grab().toImage();
  if (!image.save(QString::fromStdString(out), "PNG")) {
    std::cerr << "window_screenshot: cannot write " << out << "\n";
    return 1;
  }
  return 0;
}

#pragma once
// Helpers for the tests that drive a whole MainWindow.

#include <QCoreApplication>
#include <QSpinBox>

#include "main_window.hpp"
#include "panels/settings_panel.hpp"
#include "ui_test_support.hpp"

namespace attnscope::ui::testing {

// A field of the window's settings panel by object name; a missing one ends the test run.
template <typename Widget>
Widget* settingsField(MainWindow& window, const char* name) {
  auto* widget = window.settingsPanel()->findChild<Widget*>(QString::fromLatin1(name));
  if (!widget) qFatal("no settings field %s", name);
  return widget;
}

// The book's multi-head mechanism at 12 heads (d_out 12), computed and laid out: 24 maps with the two
// masks, wider than the window.
inline bool showTwelveHeads(MainWindow& window) {
  settingsField<QSpinBox>(window, "dOut")->setValue(12);
  settingsField<QSpinBox>(window, "heads")->setValue(12);
  const bool idle = waitForIdle(window.controller());
  QCoreApplication::processEvents();
  return idle;
}

}  // namespace attnscope::ui::testing

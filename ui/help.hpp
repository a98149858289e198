#pragma once
// Help ▸ Keyboard and Mouse and Help ▸ About.

class QMenu;
class QWidget;

namespace attnscope::ui {

void showShortcuts(QWidget* parent);
void showAbout(QWidget* parent);
// Adds Keyboard and Mouse (F1) and About to `menu`; their dialogs open over `parent`.
void fillHelpMenu(QMenu* menu, QWidget* parent);

}  // namespace attnscope::ui

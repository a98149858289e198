#pragma once
// Help ▸ Keyboard and Mouse and Help ▸ About.

class QWidget;

namespace attnscope::ui {

void showShortcuts(QWidget* parent);
void showAbout(QWidget* parent);

}  // namespace attnscope::ui

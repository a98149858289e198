#pragma once
// Compare's editor (View ▸ Compare, issue 21): text B, computed with the same settings as the sentence above
// it (text A); what the grid shows of the comparison (the difference, or A, B and the difference); and B's
// problem, said here while A's maps stay. Hidden while Compare is off.

#include <QAction>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QWidget>

#include "state/scope_model.hpp"

namespace attnscope::ui {

class CompareEditor : public QWidget {
  Q_OBJECT

 public:
  explicit CompareEditor(QWidget* parent = nullptr);

  // Shows the model's compare text and edits it; shows the problem of its comparison.
  void setModel(ScopeModel* model);
  // Checkable (Ctrl+Shift+B): Compare on, starting B from A's text, or off.
  QAction* toggleAction() const { return m_toggle; }
  QLineEdit* textField() const { return m_text; }
  QComboBox* viewField() const { return m_view; }
  QString problem() const { return m_problem->isHidden() ? QString() : m_problem->text(); }

 private:
  void showSettings(const ViewSettings& settings);
  void setCompareText(const std::optional<QString>& text);

  ScopeModel* m_model = nullptr;
  QAction* m_toggle;
  QLineEdit* m_text;
  QComboBox* m_view;
  QLabel* m_problem;
};

}  // namespace attnscope::ui

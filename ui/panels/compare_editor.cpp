#include "panels/compare_editor.hpp"

#include <QHBoxLayout>
#include <QSignalBlocker>
#include <QVBoxLayout>

namespace attnscope::ui {

CompareEditor::CompareEditor(QWidget* parent)
    : QWidget(parent),
      m_toggle(new QAction(tr("&Compare with Text B"), this)),
      m_text(new QLineEdit),
      m_view(new QComboBox),
      m_problem(new QLabel) {
  setObjectName(QStringLiteral("compareEditor"));
  m_toggle->setObjectName(QStringLiteral("compareAction"));
  m_toggle->setCheckable(true);
  m_toggle->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_B));
  m_toggle->setToolTip(
      tr("A second text, B, computed with the same settings: the maps show how each head's weights differ "
         "(Ctrl+Shift+B)"));
  m_text->setObjectName(QStringLiteral("compareText"));
  m_text->setPlaceholderText(tr("Text B, compared with the sentence above\u2026"));
  m_text->setAccessibleName(tr("Text B"));
  m_view->setObjectName(QStringLiteral("compareView"));
  m_view->addItem(tr("A \u2212 B"), static_cast<int>(CompareView::difference));
  m_view->addItem(tr("A, B, A \u2212 B"), static_cast<int>(CompareView::aBAndDifference));
  m_view->setToolTip(tr("Per head: only the difference of the weights, or A's, B's and their difference"));
  m_problem->setObjectName(QStringLiteral("compareProblem"));
  m_problem->setWordWrap(true);
  m_problem->setTextFormat(Qt::PlainText);
  m_problem->setStyleSheet(QStringLiteral("color: #b00020;"));
  m_problem->hide();

  auto* row = new QHBoxLayout;
  row->setContentsMargins(0, 0, 0, 0);
  auto* label = new QLabel(tr("&B:"));
  label->setBuddy(m_text);
  row->addWidget(label);
  row->addWidget(m_text, 1);
  row->addWidget(m_view);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(2);
  layout->addLayout(row);
  layout->addWidget(m_problem);
  hide();
}

void CompareEditor::setModel(ScopeModel* model) {
  m_model = model;
  showSettings(model->settings());
  connect(model, &ScopeModel::settingsChanged, this, &CompareEditor::showSettings);
  connect(model, &ScopeModel::comparisonChanged, this, [this](const ComparisonPointer& comparison) {
    const QString problem = comparison ? comparison->problem : QString();
    m_problem->setText(problem);
    m_problem->setVisible(!problem.isEmpty());
  });
  connect(m_toggle, &QAction::toggled, this, [this](bool on) {
    if (on == m_model->settings().compareText.has_value()) return;
    // B starts as A: the maps start at 0, and each edit of B shows what it changes.
    setCompareText(
        on ? std::optional<QString>(m_text->text().isEmpty() ? m_model->settings().text : m_text->text())
           : std::nullopt);
    if (on) m_text->setFocus();
  });
  connect(m_text, &QLineEdit::textEdited, this, [this](const QString& text) { setCompareText(text); });
  connect(m_view, &QComboBox::activated, this, [this] {
    ViewSettings settings = m_model->settings();
    settings.display.compareView = static_cast<CompareView>(m_view->currentData().toInt());
    m_model->setSettings(settings);
  });
}

void CompareEditor::showSettings(const ViewSettings& settings) {
  const bool on = settings.compareText.has_value();
  {
    const QSignalBlocker blocker(m_toggle);
    m_toggle->setChecked(on);
  }
  if (on && m_text->text() != *settings.compareText) m_text->setText(*settings.compareText);
  m_view->setCurrentIndex(m_view->findData(static_cast<int>(settings.display.compareView)));
  if (!on) m_problem->hide();
  setVisible(on);
}

void CompareEditor::setCompareText(const std::optional<QString>& text) {
  ViewSettings settings = m_model->settings();
  settings.compareText = text;
  m_model->setSettings(settings);
}

}  // namespace attnscope::ui

#include "panels/token_strip.hpp"

#include <QHBoxLayout>

#include "text.hpp"

namespace attnscope::ui {

TokenStrip::TokenStrip(QWidget* parent) : QWidget(parent), m_summary(new QLabel), m_chips(new TokenChipView) {
  m_summary->setTextFormat(Qt::RichText);
  m_summary->setMinimumWidth(m_summary->fontMetrics().horizontalAdvance(QStringLiteral("whitespace")) + 16);
  m_summary->setToolTip(
      tr("The tokenizer that cut the text (Settings \u25b8 Tokenizer) and the token count"));
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(8);
  layout->addWidget(m_summary);
  layout->addWidget(m_chips, 1);
  connect(m_chips, &TokenChipView::chipHovered, this, &TokenStrip::tokenHovered);
  connect(m_chips, &TokenChipView::chipClicked, this, &TokenStrip::tokenClicked);
  setSnapshot(nullptr);
}

void TokenStrip::setModel(ScopeModel* model) {
  setSnapshot(model->snapshot());
  connect(model, &ScopeModel::snapshotChanged, this, &TokenStrip::setSnapshot);
  connect(model, &ScopeModel::hoverChanged, this, [this](int query) { setHover(query); });
  connect(model, &ScopeModel::selectionChanged, this,
          [this](const QuerySelection& selection) { setSelected(selection.query); });
  connect(this, &TokenStrip::tokenHovered, model, [model](int index) { model->setHover(index, index); });
  connect(this, &TokenStrip::tokenClicked, model, &ScopeModel::selectQuery);
  connect(m_chips, &TokenChipView::chipProbed, model, &ScopeModel::setProbeKey);
  connect(m_chips, &TokenChipView::stepped, model, &ScopeModel::stepQuery);
}

void TokenStrip::setSnapshot(const SnapshotPointer& snapshot) {
  if (!snapshot) {
    m_summary->setText(tr("<span style='color:gray'>no tokens</span>"));
    m_chips->setTokens({});
    return;
  }
  m_summary->setText(tr("<b>%1</b><br><span style='color:gray'>%2</span>")
                         .arg(snapshot->model ? tr("GPT-2 BPE") : toQString(to_string(snapshot->tokenizer)),
                              counted(snapshot->tokenCount(), tr("token"), tr("tokens"))));
  QStringList details;  // a GPT-2 piece's own bytes: the chip of a character split over pieces shows it whole
  if (snapshot->model)
    for (const BpeToken& token : snapshot->model->tokens)
      details << tr("GPT-2 piece %1 (id %2)").arg(toQString(token.bytes_display)).arg(token.id);
  m_chips->setTokens(snapshot->tokenTexts, details);
}

void TokenStrip::setHover(int query) {
  m_chips->setHighlighted(query);
  if (query >= 0 && !m_chips->underMouse()) m_chips->ensureChipVisible(query);
}

void TokenStrip::setSelected(int query) {
  m_chips->setSelected(query);
}

}  // namespace attnscope::ui

#pragma once
// Under the editor: which tokenizer cut the text, into how many tokens, and the tokens as chips. Hovering a
// chip highlights its row and column in every heatmap; clicking selects it as the query.

#include <QLabel>
#include <QWidget>

#include "compute/attention_snapshot.hpp"
#include "panels/token_chip_view.hpp"
#include "state/scope_model.hpp"

namespace attnscope::ui {

class TokenStrip : public QWidget {
  Q_OBJECT

 public:
  explicit TokenStrip(QWidget* parent = nullptr);

  // Shows the model's tokens, hover and selected query; hovering a chip hovers its token, a click selects it.
  void setModel(ScopeModel* model);
  void setSnapshot(const SnapshotPointer& snapshot);
  // The hovered query (from a chip, a heatmap row or cell); scrolled into view when it comes from elsewhere.
  void setHover(int query);
  void setSelected(int query);
  TokenChipView* chips() const { return m_chips; }
  QString summary() const { return m_summary->text(); }

 signals:
  void tokenHovered(int index);
  void tokenClicked(int index);

 private:
  QLabel* m_summary;
  TokenChipView* m_chips;
};

}  // namespace attnscope::ui

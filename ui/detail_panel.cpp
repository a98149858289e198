#include "detail_panel.hpp"

#include <QHeaderView>
#include <QStackedWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

#include "color_maps.hpp"
#include "text.hpp"
#include "token_axis_ticker.hpp"

namespace attnscope::ui {
namespace {

QLabel* sectionTitle(const QString& text) {
  auto* label = new QLabel(text);
  QFont font = label->font();
  font.setBold(true);
  label->setFont(font);
  return label;
}

constexpr int kLabelledBars = 24;  // print each weight above its bar up to this many keys

}  // namespace

DetailPanel::DetailPanel(QWidget* parent)
    : QWidget(parent),
      m_stack(new QStackedWidget),
      m_placeholder(new QLabel),
      m_heading(new QLabel),
      m_formula(new QLabel),
      m_bars(new QCustomPlot),
      m_steps(new QueryStepsModel(this)),
      m_stepsView(new QTableView),
      m_vectors(new QTableWidget) {
  m_placeholder->setText(tr("Click a heatmap row or a token to see how that query's weights are made."));
  m_placeholder->setWordWrap(true);
  m_placeholder->setAlignment(Qt::AlignCenter);
  m_placeholder->setStyleSheet(QStringLiteral("color: palette(mid); padding: 20px;"));

  m_heading->setWordWrap(true);
  m_heading->setTextFormat(Qt::RichText);
  m_formula->setWordWrap(true);
  m_formula->setStyleSheet(QStringLiteral("color: palette(dark);"));

  m_bars->setMinimumHeight(190);
  m_bars->setBackground(QBrush(Qt::white));
  m_bars->xAxis->grid()->setVisible(false);
  m_bars->xAxis->setTickLength(0, 0);
  m_bars->xAxis->setSubTicks(false);
  m_bars->yAxis->setLabel(tr("weight"));
  m_bars->yAxis->grid()->setPen(QPen(QColor(0xe4, 0xe4, 0xe4)));
  m_barTicker = QSharedPointer<TokenAxisTicker>::create(m_bars->xAxis, QStringList(), 10);
  m_bars->xAxis->setTicker(m_barTicker);
  auto* bars = new QCPBars(m_bars->xAxis, m_bars->yAxis);
  bars->setWidth(0.7);
  bars->setPen(Qt::NoPen);
  bars->setBrush(QColor::fromRgba(ColorMaps::sequential(ColorMapId::viridis).color(0.35, QCPRange(0, 1))));

  m_stepsView->setModel(m_steps);
  m_stepsView->verticalHeader()->hide();
  m_stepsView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_stepsView->horizontalHeader()->setStretchLastSection(true);
  m_stepsView->setSelectionMode(QAbstractItemView::NoSelection);
  m_stepsView->setAlternatingRowColors(true);
  m_stepsView->verticalHeader()->setDefaultSectionSize(m_stepsView->fontMetrics().height() + 6);

  m_vectors->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_vectors->setSelectionMode(QAbstractItemView::NoSelection);
  m_vectors->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_vectors->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_vectors->setMaximumHeight(130);

  auto* details = new QWidget;
  auto* layout = new QVBoxLayout(details);
  layout->setContentsMargins(8, 8, 8, 8);
  layout->setSpacing(6);
  layout->addWidget(m_heading);
  layout->addWidget(sectionTitle(tr("Weights over the keys")));
  layout->addWidget(m_bars, 2);
  layout->addWidget(sectionTitle(tr("Step by step")));
  layout->addWidget(m_formula);
  layout->addWidget(m_stepsView, 3);
  layout->addWidget(sectionTitle(tr("Vectors")));
  layout->addWidget(m_vectors);

  m_stack->addWidget(m_placeholder);
  m_stack->addWidget(details);
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  outer->addWidget(m_stack);
  setMinimumWidth(320);
}

void DetailPanel::setContent(const SnapshotPointer& snapshot, const QuerySelection& selection) {
  m_snapshot = snapshot;
  m_selection = selection;
  const bool valid = snapshot && selection.query >= 0 && selection.query < snapshot->tokenCount() &&
                     selection.maskRow < snapshot->maskCount() && selection.head < snapshot->headCount();
  m_steps->setContent(valid ? snapshot : nullptr, selection);
  if (!valid) {
    m_stack->setCurrentWidget(m_placeholder);
    m_heading->clear();
    return;
  }
  m_stack->setCurrentIndex(1);
  const MaskedResult& row = snapshot->rows[selection.maskRow];
  const HeadResult& head = row.result.heads[selection.head];
  m_heading->setText(tr("<b>Query %1 \u00b7 \u201c%2\u201d</b><br><span style='color:gray'>head %3 \u00b7 %4 "
                        "mask \u00b7 %5</span>")
                         .arg(selection.query + 1)
                         .arg(displayToken(snapshot->tokenTexts.at(selection.query), 40).toHtmlEscaped())
                         .arg(selection.head + 1)
                         .arg(snapshot->maskLabel(selection.maskRow).toHtmlEscaped())
                         .arg(toQString(to_string(row.config.mechanism))));
  const int headDim = static_cast<int>(head.queries.cols());
  QString formula = head.scale == 1.0f
                        ? tr("score = q\u00b7k (no scaling)")
                        : tr("score = q\u00b7k, scaled = score / \u221a%1 = score \u00d7 %2").arg(headDim).arg(
                              QString::number(head.scale, 'g', 4));
  formula += row.config.normalization == Normalization::sum ? tr(", masked \u2192 \u2212\u221e, \u00f7 sum")
                                                             : tr(", masked \u2192 \u2212\u221e, softmax");
  if (head.dropout_weights)
    formula += tr(", dropout p = %1 (kept \u00d7 %2)")
                   .arg(row.config.dropout)
                   .arg(QString::number(1.0 / (1.0 - row.config.dropout), 'g', 4));
  m_formula->setText(formula + QLatin1Char('.'));
  m_stepsView->resizeColumnsToContents();
  showBars();
  showVectors();
}

void DetailPanel::showBars() {
  const int n = m_snapshot->tokenCount();
  const int query = m_selection.query;
  auto* bars = qobject_cast<QCPBars*>(m_bars->plottable(0));
  m_bars->clearItems();
  QVector<double> keys(n), values(n);
  double top = 0.0;
  for (int key = 0; key < n; ++key) {
    keys[key] = key;
    values[key] = m_snapshot->value(m_selection.maskRow, m_selection.head, Quantity::weights, query, key);
    top = std::max(top, values[key]);
  }
  bars->setData(keys, values, true);
  top = top > 0 ? top * 1.18 : 1.0;
  m_bars->yAxis->setRange(0, top);
  m_bars->xAxis->setRange(-0.6, n - 0.4);
  m_barTicker->setTokens(m_snapshot->tokenTexts);
  m_bars->xAxis->setTickLabelRotation(n > 8 ? 90 : 0);
  for (int key = 0; key < n; ++key) {
    if (m_snapshot->isMasked(m_selection.maskRow, query, key)) {
      auto* hidden = new QCPItemRect(m_bars);
      hidden->topLeft->setCoords(key - 0.35, top);
      hidden->bottomRight->setCoords(key + 0.35, 0);
      hidden->setPen(Qt::NoPen);
      hidden->setBrush(ColorMaps::maskedBrush());
      hidden->setClipToAxisRect(true);
    } else if (n <= kLabelledBars) {
      auto* label = new QCPItemText(m_bars);
      label->position->setCoords(key, values[key]);
      label->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
      label->setText(QString::number(values[key], 'f', n <= 8 ? 3 : 2));
      QFont font = m_bars->font();
      font.setPointSizeF(font.pointSizeF() * 0.85);
      label->setFont(font);
      label->setPadding(QMargins(0, 0, 0, 2));
    }
  }
  m_bars->replot();
}

void DetailPanel::showVectors() {
  const MaskedResult& row = m_snapshot->rows[m_selection.maskRow];
  const HeadResult& head = row.result.heads[m_selection.head];
  const int query = m_selection.query;
  struct Line {
    QString name;
    Vector values;
  };
  const std::vector<Line> lines{
      {tr("query q (head %1)").arg(m_selection.head + 1), head.queries.row(query)},
      {tr("context z (head %1)").arg(m_selection.head + 1), head.context.row(query)},
      {tr("output (module)"), row.result.output.row(query)},
  };
  int columns = 0;
  for (const Line& line : lines) columns = std::max(columns, static_cast<int>(line.values.cols()));
  // Wide outputs (long d_out) are cut for the table; the exports carry every number.
  columns = std::min(columns, 64);
  m_vectors->clear();
  m_vectors->setRowCount(static_cast<int>(lines.size()));
  m_vectors->setColumnCount(columns);
  QStringList header;
  for (int c = 0; c < columns; ++c) header << QString::number(c);
  m_vectors->setHorizontalHeaderLabels(header);
  QStringList names;
  for (int r = 0; r < static_cast<int>(lines.size()); ++r) {
    names << lines[r].name;
    for (int c = 0; c < columns && c < lines[r].values.cols(); ++c) {
      auto* item = new QTableWidgetItem(QString::number(lines[r].values(c), 'f', 4));
      item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      m_vectors->setItem(r, c, item);
    }
  }
  m_vectors->setVerticalHeaderLabels(names);
}

}  // namespace attnscope::ui

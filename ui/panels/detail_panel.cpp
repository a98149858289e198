#include "panels/detail_panel.hpp"

#include <qcustomplot.h>

#include <QCheckBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QSettings>
#include <QStackedWidget>
#include <QTimer>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "plot/color_maps.hpp"
#include "plot/token_axis_ticker.hpp"
#include "state/window_settings.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

QLabel* sectionTitle(const QString& text) {
  auto* label = new QLabel(text);
  QFont font = label->font();
  font.setBold(true);
  label->setFont(font);
  return label;
}

constexpr int kLabelledBars = 12;           // print each weight above its bar up to this many keys
constexpr double kMaskedMarkHeight = 0.05;  // of the chart's height: the hatched foot under a hidden key
constexpr int kMinimumSlots = 6;  // fewer bars than this are centred, not stretched across the chart
const QString kAllKeysSetting = QStringLiteral("detailPanel/allKeys");

// The panel's own display choice, beside what the next launch restores (WindowSettings).
QSettings savedSettings() {
  return QSettings(QString::fromLatin1(WindowSettings::kOrganization),
                   QString::fromLatin1(WindowSettings::kApplication));
}

}  // namespace

DetailPanel::DetailPanel(QWidget* parent)
    : QWidget(parent),
      m_followSnapshot(new QTimer(this)),
      m_stack(new QStackedWidget),
      m_placeholder(new QLabel),
      m_heading(new QLabel),
      m_formula(new QLabel),
      m_bars(new QCustomPlot),
      m_allKeys(new QCheckBox),
      m_barsTitle(sectionTitle(tr("Weights over the keys"))),
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

  m_bars->setMinimumHeight(160);
  m_bars->installEventFilter(this);
  m_bars->setBackground(QBrush(Qt::white));
  // Painted in Qt's own paint event, as the maps are (HeatmapPlot): at once, a replot painted every panel a
  // snapshot had changed inside this panel's update (7–13 ms of the GUI thread at 4,096 tokens).
  m_bars->setPlottingHint(QCP::phImmediateRefresh, false);
  m_bars->xAxis->grid()->setVisible(false);
  m_bars->xAxis->setTickLength(0, 0);
  m_bars->xAxis->setSubTicks(false);
  m_bars->yAxis->setLabel(tr("weight"));
  m_bars->yAxis->grid()->setPen(QPen(QColor(0xe4, 0xe4, 0xe4)));
  m_barTicker = QSharedPointer<TokenAxisTicker>::create(m_bars->xAxis, QStringList(), 10);
  m_bars->xAxis->setTicker(m_barTicker);
  auto* bars = new QCPBars(m_bars->xAxis, m_bars->yAxis);
  connect(m_bars, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
    QToolTip::showText(event->globalPosition().toPoint(), barToolTip(event->position().x()), m_bars);
  });
  bars->setWidth(0.7);
  bars->setPen(Qt::NoPen);
  bars->setBrush(QColor::fromRgba(ColorMaps::sequential(ColorMapId::viridis).color(0.35, QCPRange(0, 1))));

  m_allKeys->setObjectName(QStringLiteral("allKeys"));
  m_allKeys->setText(tr("All keys"));
  m_allKeys->setToolTip(tr("Show a bar for every key; unchecked, a long text shows the %1 largest weights "
                           "and the query's own key")
                            .arg(kTopKeys));
  m_allKeys->setChecked(savedSettings().value(kAllKeysSetting, false).toBool());
  connect(m_allKeys, &QCheckBox::toggled, this, [this](bool all) {
    savedSettings().setValue(kAllKeysSetting, all);
    if (m_snapshot && m_stack->currentIndex() == 1) showBars();
  });

  m_stepsView->setModel(m_steps);
  m_stepsView->verticalHeader()->hide();
  m_stepsView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  // Sized from the rows in view: measuring every row costs the GUI thread ~0.1 ms a row (the first 200 were
  // 5 ms of every snapshot).
  m_stepsView->horizontalHeader()->setResizeContentsPrecision(0);
  m_stepsView->horizontalHeader()->setStretchLastSection(true);
  m_stepsView->setSelectionMode(QAbstractItemView::NoSelection);
  m_stepsView->setAlternatingRowColors(true);
  m_stepsView->verticalHeader()->setDefaultSectionSize(m_stepsView->fontMetrics().height() + 6);
  m_stepsView->setMinimumHeight(5 * m_stepsView->verticalHeader()->defaultSectionSize());

  m_vectors->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_vectors->setSelectionMode(QAbstractItemView::NoSelection);
  m_vectors->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  m_vectors->verticalHeader()->setDefaultSectionSize(m_vectors->fontMetrics().height() + 6);
  m_vectors->setAlternatingRowColors(true);
  // A header and four rows (the book's d_out), then it scrolls: the step table above gets the height.
  m_vectors->setMaximumHeight(5 * m_vectors->verticalHeader()->defaultSectionSize() + 6);

  auto* details = new QWidget;
  auto* layout = new QVBoxLayout(details);
  layout->setContentsMargins(8, 8, 8, 8);
  layout->setSpacing(6);
  layout->addWidget(m_heading);
  auto* barsTitle = new QHBoxLayout;
  barsTitle->setContentsMargins(0, 0, 0, 0);
  barsTitle->addWidget(m_barsTitle, 1);
  barsTitle->addWidget(m_allKeys);
  layout->addLayout(barsTitle);
  layout->addWidget(m_bars, 2);
  layout->addWidget(sectionTitle(tr("Step by step")));
  layout->addWidget(m_formula);
  layout->addWidget(m_stepsView, 3);
  layout->addWidget(sectionTitle(tr("Vectors of this query")));
  layout->addWidget(m_vectors);

  m_stack->addWidget(m_placeholder);
  m_stack->addWidget(details);
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  outer->addWidget(m_stack);
  setMinimumWidth(240);  // with the settings and the grid, it fits a 1024-pixel-wide window
}

void DetailPanel::setModel(ScopeModel* model) {
  m_followSnapshot->setSingleShot(true);
  m_followSnapshot->setInterval(0);
  connect(m_followSnapshot, &QTimer::timeout, this,
          [this, model] { setContent(model->snapshot(), model->selection()); });
  // The model announces the (clamped) selection right after a new snapshot.
  connect(model, &ScopeModel::snapshotChanged, this, [this] { m_snapshotArrived = true; });
  connect(model, &ScopeModel::selectionChanged, this, [this, model](const QuerySelection& selection) {
    if (m_snapshotArrived) {
      m_snapshotArrived = false;
      m_followSnapshot->start();
      return;
    }
    m_followSnapshot->stop();
    setContent(model->snapshot(), selection);
  });
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
  const HeadResult& head = snapshot->head(selection.maskRow, selection.head);
  m_heading->setText(tr("<b>Query %1 \u00b7 \u201c%2\u201d</b><br><span style='color:gray'>%3 \u00b7 %4 "
                        "mask \u00b7 %5</span>")
                         .arg(selection.query + 1)
                         .arg(displayToken(snapshot->tokenTexts.at(selection.query), 40).toHtmlEscaped())
                         .arg(snapshot->headLabel(selection.head))
                         .arg(snapshot->maskLabel(selection.maskRow).toHtmlEscaped())
                         .arg(snapshot->mechanismLabel(selection.maskRow)));
  // A summary has no q and k of its own: the width is its heads'.
  const int headDim = static_cast<int>(snapshot->head(selection.maskRow, 0).queries.cols());
  QString formula = head.scale == 1.0f ? tr("score = q\u00b7k (no scaling)")
                                       : tr("score = q\u00b7k, scaled = score / \u221a%1 = score \u00d7 %2")
                                             .arg(headDim)
                                             .arg(QString::number(head.scale, 'g', 4));
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
  const auto weight = [&](int key) {
    return m_snapshot->value(m_selection.maskRow, m_selection.head, Quantity::weights, query, key);
  };
  const auto masked = [&](int key) { return m_snapshot->isMasked(m_selection.maskRow, query, key); };
  // A long text's bars would be a pixel wide: the largest weights and the query's own key, in text order.
  const bool many = n > kManyKeys;
  m_allKeys->setVisible(many);
  m_shownKeys.clear();
  int hidden = 0;
  for (int key = 0; key < n; ++key) hidden += masked(key);
  if (many && !m_allKeys->isChecked()) {
    QVector<int> visible;
    for (int key = 0; key < n; ++key)
      if (!masked(key)) visible << key;
    const auto top = visible.begin() + std::min<qsizetype>(kTopKeys, visible.size());
    std::partial_sort(visible.begin(), top, visible.end(), [&](int a, int b) {
      return weight(a) > weight(b) || (weight(a) == weight(b) && a < b);
    });
    m_shownKeys = QVector<int>(visible.begin(), top);
    if (!m_shownKeys.contains(query)) m_shownKeys << query;
    std::sort(m_shownKeys.begin(), m_shownKeys.end());
    m_barsTitle->setText(tr("Weights \u00b7 largest %1 of %2").arg(m_shownKeys.size()).arg(n));
  } else {
    m_shownKeys.resize(n);
    std::iota(m_shownKeys.begin(), m_shownKeys.end(), 0);
    m_barsTitle->setText(many ? tr("Weights \u00b7 all %1 keys").arg(n) : tr("Weights over the keys"));
  }
  m_barsTitle->setToolTip(many && hidden > 0 ? tr("%1 masked, hidden from this query").arg(hidden)
                                             : QString());
  const int m = static_cast<int>(m_shownKeys.size());

  auto* bars = qobject_cast<QCPBars*>(m_bars->plottable(0));
  m_bars->clearItems();
  QVector<double> positions(m), values(m);
  QStringList labels;
  double top = 0.0;
  for (int slot = 0; slot < m; ++slot) {
    const int key = m_shownKeys[slot];
    positions[slot] = slot;
    values[slot] = weight(key);
    labels << m_snapshot->tokenTexts[key];
    top = std::max(top, values[slot]);
  }
  bars->setData(positions, values, true);
  top = top > 0 ? top * 1.18 : 1.0;
  m_bars->yAxis->setRange(0, top);
  const double pad = std::max(0, kMinimumSlots - m) / 2.0;
  m_bars->xAxis->setRange(-0.6 - pad, m - 0.4 + pad);
  m_barTicker->setTokens(labels);
  for (int slot = 0; slot < m; ++slot) {
    const int key = m_shownKeys[slot];
    if (masked(key)) {
      // A long text's hidden keys as one item per run, not one per key (thousands of items to draw).
      int last = slot;
      if (m > kLabelledBars)
        while (last + 1 < m && m_shownKeys[last + 1] == m_shownKeys[last] + 1 &&
               masked(m_shownKeys[last + 1]))
          ++last;
      // A hatched foot, not a bar: a hidden key has no weight, and a full-height hatch read as the tallest.
      auto* foot = new QCPItemRect(m_bars);
      foot->topLeft->setCoords(slot - 0.35, top * kMaskedMarkHeight);
      foot->bottomRight->setCoords(last + 0.35, 0);
      slot = last;
      foot->setPen(Qt::NoPen);
      foot->setBrush(ColorMaps::maskedBrush());
      foot->setClipToAxisRect(true);
    } else if (m <= kLabelledBars) {
      auto* label = new QCPItemText(m_bars);
      label->position->setCoords(slot, values[slot]);
      label->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
      label->setText(QString::number(values[slot], 'f', m <= 6 ? 3 : 2));
      QFont font = m_bars->font();
      font.setPointSizeF(font.pointSizeF() * 0.85);
      label->setFont(font);
      label->setPadding(QMargins(0, 0, 0, 2));
    }
  }
  fitBarLabels();
}

QString DetailPanel::barToolTip(double x) const {
  if (!m_snapshot || m_selection.query < 0) return {};
  const int slot = static_cast<int>(std::lround(m_bars->xAxis->pixelToCoord(x)));
  if (slot < 0 || slot >= m_shownKeys.size()) return {};
  const int key = m_shownKeys[slot];
  if (key >= m_snapshot->tokenCount()) return {};
  const QString token = m_snapshot->tokenTexts[key].toHtmlEscaped();
  if (m_snapshot->isMasked(m_selection.maskRow, m_selection.query, key))
    return tr("%1 %2: masked, hidden from this query (weight exactly 0)").arg(key + 1).arg(token);
  return tr("%1 %2: weight %3")
      .arg(key + 1)
      .arg(token)
      .arg(
          m_snapshot->value(m_selection.maskRow, m_selection.head, Quantity::weights, m_selection.query, key),
          0, 'f', 4);
}

void DetailPanel::fitBarLabels() {
  // Horizontal key labels while each fits its bar, else rotated (the ticker then thins them by font height).
  const double span = std::max(1.0, m_bars->xAxis->range().size());
  const double barWidth = m_bars->axisRect()->width() / span;
  const double rotation = m_barTicker->widestLabel() + 6 > barWidth ? -90.0 : 0.0;
  if (rotation != m_bars->xAxis->tickLabelRotation()) m_bars->xAxis->setTickLabelRotation(rotation);
  m_bars->replot();
}

bool DetailPanel::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_bars && event->type() == QEvent::Resize && m_snapshot)
    QTimer::singleShot(0, this, [this] { fitBarLabels(); });
  return QWidget::eventFilter(watched, event);
}

void DetailPanel::showVectors() {
  const MaskedResult& row = m_snapshot->rows[m_selection.maskRow];
  const HeadResult& head = m_snapshot->head(m_selection.maskRow, m_selection.head);
  const int query = m_selection.query;
  // One column per vector, one row per dimension: the dock is narrow and d_out can be large.
  const std::vector<std::pair<QString, Vector>> columns{
      {tr("q"), head.queries.row(query)},
      {tr("context z"), head.context.row(query)},
      {tr("output"), row.result->output.row(query)},
  };
  int rows = 0;
  for (const auto& column : columns) rows = std::max(rows, static_cast<int>(column.second.cols()));
  m_vectors->clear();
  m_vectors->setColumnCount(static_cast<int>(columns.size()));
  m_vectors->setRowCount(rows);
  QStringList header;
  for (const auto& column : columns) header << column.first;
  m_vectors->setHorizontalHeaderLabels(header);
  m_vectors->horizontalHeaderItem(0)->setToolTip(tr("The query vector of head %1").arg(m_selection.head));
  m_vectors->horizontalHeaderItem(1)->setToolTip(
      tr("Head %1's context vector: the weights times the values").arg(m_selection.head));
  m_vectors->horizontalHeaderItem(2)->setToolTip(
      tr("The module's output for this token (heads concatenated, then out_proj for multi-head)"));
  for (int c = 0; c < static_cast<int>(columns.size()); ++c)
    for (int r = 0; r < columns[c].second.cols(); ++r) {
      auto* item = new QTableWidgetItem(formatValue(columns[c].second(r)));
      item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      m_vectors->setItem(r, c, item);
    }
}

}  // namespace attnscope::ui

#include "plot/compare_plot.hpp"

#include <QToolTip>
#include <algorithm>
#include <cmath>
#include <limits>

#include "plot/color_maps.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

constexpr int kMapSide = 170;           // a map's cells, in pixels, at the natural size
constexpr int kLabelRoom = 110;         // token labels and margins around a map
constexpr int kTitleRoom = 24;          // a map's title
constexpr int kScaleRoom = 110;         // the colour bars
constexpr int kMostLabelsPerAxis = 24;  // more tokens label every k-th, so the labels stay readable
constexpr double kNoDifference = 0.01;  // the diverging range's half-width when A and B are equal

QString kindLabel(ComparePlot::MapKind kind) {
  switch (kind) {
    case ComparePlot::MapKind::a:
      return QStringLiteral("A");
    case ComparePlot::MapKind::b:
      return QStringLiteral("B");
    case ComparePlot::MapKind::difference:
      return QStringLiteral("A \u2212 B");
  }
  return {};
}

// The range A's and B's weight maps of a mask row share, as the heatmaps choose one (ColorMaps::rangeFor):
// up to the 99th percentile of the unmasked weights of both texts when that is under half the largest. One
// per mask row: a causal row's first weights (1) would leave an unmasked row's maps one dark colour.
QCPRange weightRangeOf(const AttentionSnapshot& a, const AttentionSnapshot& b, int row) {
  std::vector<double> weights;
  for (const AttentionSnapshot* snapshot : {&a, &b})
    for (int head = 0; head < snapshot->mechanismHeadCount(); ++head)
      for (int query = 0; query < snapshot->tokenCount(); ++query)
        for (int key = 0; key < snapshot->tokenCount(); ++key)
          if (!snapshot->isMasked(row, query, key))
            weights.push_back(snapshot->value(row, head, Quantity::weights, query, key));
  if (weights.empty()) return {0.0, 1.0};
  const auto [smallest, largest] = std::minmax_element(weights.begin(), weights.end());
  const double minimum = *smallest, maximum = *largest;
  const auto percentile = weights.begin() + static_cast<std::ptrdiff_t>(0.99 * double(weights.size() - 1));
  std::nth_element(weights.begin(), percentile, weights.end());
  return ColorMaps::rangeFor(Quantity::weights, minimum, maximum, *percentile);
}

}  // namespace

ComparePlot::ComparePlot(QWidget* parent) : QCustomPlot(parent) {
  setBackground(QBrush(Qt::white));
  setPlottingHint(QCP::phImmediateRefresh, false);  // painted in Qt's paint event, as HeatmapPlot says why
  plotLayout()->clear();
  setMouseTracking(true);
  connect(this, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
    int map = -1, query = -1, key = -1;
    const bool over = cellAt(event->position(), &map, &query, &key);
    if (over)
      QToolTip::showText(event->globalPosition().toPoint() + QPoint(14, 10), toolTipFor(map, query, key),
                         this);
    else
      QToolTip::hideText();
    if (over && isACell(map, query, key))
      emit cellHovered(query, key);
    else
      emit cellHovered(-1, -1);
  });
  connect(this, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) {
    int map = -1, query = -1, key = -1;
    if (event->button() == Qt::LeftButton && cellAt(event->position(), &map, &query, &key) &&
        isACell(map, query, key))
      emit cellClicked(mapKey(map).maskRow, mapKey(map).head, query);
  });
}

bool ComparePlot::isACell(int map, int query, int key) const {
  const int limit =
      mapKey(map).kind == MapKind::b ? m_comparison->alignedCount() : m_comparison->a->tokenCount();
  return query < limit && key < limit;
}

int ComparePlot::gridRowsPerMask() const {
  return m_options.compareView == CompareView::aBAndDifference ? 3 : 1;
}

void ComparePlot::setContent(ComparisonPointer comparison, const DisplayOptions& options) {
  m_comparison = std::move(comparison);
  m_options = options;
  m_maps.clear();
  plotLayout()->clear();
  clearPlottables();
  if (!m_comparison || !m_comparison->b) {
    replot();
    return;
  }
  const AttentionSnapshot& a = *m_comparison->a;
  const AttentionSnapshot& b = *m_comparison->b;
  const int m = m_comparison->alignedCount();
  QString header = tr("A \u2212 B of the weights over the first %1 tokens (A has %2, B %3)")
                       .arg(m)
                       .arg(a.tokenCount())
                       .arg(b.tokenCount());
  if (a.tokenCount() != b.tokenCount())
    header += tr(" \u00b7 hatched: no partner in %1")
                  .arg(a.tokenCount() > b.tokenCount() ? QStringLiteral("B") : QStringLiteral("A"));
  const double largestDifference = m_comparison->largestDifference();
  if (largestDifference == 0.0) header += tr(" \u00b7 the same weights: every difference is 0");
  auto* title = new QCPTextElement(this, header, QFont(font().family(), 10, QFont::Bold));
  plotLayout()->addElement(0, 0, title);
  auto* grid = new QCPLayoutGrid;
  plotLayout()->addElement(1, 0, grid);

  const double largest = largestDifference > 0.0 ? largestDifference : kNoDifference;
  const QCPRange differenceRange(-largest, largest);
  std::vector<MapKind> kinds{MapKind::difference};
  if (m_options.compareView == CompareView::aBAndDifference)
    kinds = {MapKind::a, MapKind::b, MapKind::difference};
  const int heads = a.mechanismHeadCount();
  int gridRow = 0;
  for (int row = 0; row < a.maskCount(); ++row) {
    const QCPRange weightRange = kinds.size() > 1 ? weightRangeOf(a, b, row) : QCPRange();
    for (const MapKind kind : kinds) {
      const QCPRange range = kind == MapKind::difference ? differenceRange : weightRange;
      for (int head = 0; head < heads; ++head) addMap(grid, gridRow, head, MapKey{row, head, kind}, range);
      auto* scale = new QCPColorScale(this);
      scale->setGradient(kind == MapKind::difference ? ColorMaps::diverging()
                                                     : ColorMaps::sequential(m_options.colorMap));
      scale->setDataRange(range);
      scale->setLabel(kind == MapKind::difference ? tr("A \u2212 B") : tr("weight"));
      scale->setBarWidth(12);
      grid->addElement(gridRow * 2 + 1, heads, scale);
      ++gridRow;
    }
  }
  replot();
}

void ComparePlot::addMap(QCPLayoutGrid* grid, int gridRow, int column, const MapKey& key,
                         const QCPRange& range) {
  Map map;
  map.key = key;
  const AttentionSnapshot& a = *m_comparison->a;
  const AttentionSnapshot& b = *m_comparison->b;
  map.tokens = key.kind == MapKind::a   ? a.tokenCount()
               : key.kind == MapKind::b ? b.tokenCount()
                                        : std::max(a.tokenCount(), b.tokenCount());
  map.labels = labelsOf(key.kind);

  map.axisRect = new QCPAxisRect(this);
  map.axisRect->setBackground(ColorMaps::maskedBrush());  // NaN cells are transparent over it
  map.axisRect->setupFullAxesBox(false);
  QCPAxis* keys = map.axisRect->axis(QCPAxis::atBottom);
  QCPAxis* queries = map.axisRect->axis(QCPAxis::atLeft);
  const int step = (map.tokens + kMostLabelsPerAxis - 1) / kMostLabelsPerAxis;
  for (QCPAxis* axis : {keys, queries}) {
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (int i = 0; i < map.tokens; i += step) ticker->addTick(i, map.labels[i]);
    axis->setTicker(ticker);
    axis->setRange(-0.5, map.tokens - 0.5);
    axis->setTickLabelFont(QFont(font().family(), 8));
    axis->grid()->setVisible(false);
    axis->setSubTicks(false);
  }
  keys->setTickLabelRotation(-90);
  queries->setRangeReversed(true);  // query 0 on top, as the book prints a matrix

  map.colorMap = new QCPColorMap(keys, queries);
  map.colorMap->setGradient(key.kind == MapKind::difference ? ColorMaps::diverging()
                                                            : ColorMaps::sequential(m_options.colorMap));
  map.colorMap->setInterpolate(false);
  map.colorMap->setTightBoundary(false);
  fillCells(map);
  map.colorMap->setDataRange(range);

  const int index = static_cast<int>(m_maps.size());
  m_maps.push_back(map);
  grid->addElement(gridRow * 2, column,
                   new QCPTextElement(this, mapTitle(index), QFont(font().family(), 9, QFont::Bold)));
  grid->addElement(gridRow * 2 + 1, column, map.axisRect);
}

void ComparePlot::fillCells(Map& map) const {
  const AttentionSnapshot& a = *m_comparison->a;
  const AttentionSnapshot& b = *m_comparison->b;
  const int n = map.tokens;
  const int m = m_comparison->alignedCount();
  auto* data = new QCPColorMapData(n, n, QCPRange(0, n - 1), QCPRange(0, n - 1));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const HeadComparison& compared = m_comparison->of(map.key.maskRow, map.key.head);
  for (int query = 0; query < n; ++query)
    for (int key = 0; key < n; ++key) {
      double value = nan;
      const int row = map.key.maskRow, head = map.key.head;
      if (map.key.kind == MapKind::a) {
        if (!a.isMasked(row, query, key)) value = a.value(row, head, Quantity::weights, query, key);
      } else if (map.key.kind == MapKind::b) {
        if (!b.isMasked(row, query, key)) value = b.value(row, head, Quantity::weights, query, key);
      } else if (query < m && key < m && !(a.isMasked(row, query, key) && b.isMasked(row, query, key))) {
        value = compared.weights_diff(query, key);
      }
      data->setCell(key, query, value);
    }
  map.colorMap->setData(data);
}

QStringList ComparePlot::labelsOf(MapKind kind) const {
  // Whitespace shown as displayToken shows it in the tokens alone, not in the words around them.
  const auto shown = [](const QStringList& tokens) {
    QStringList labels;
    for (const QString& token : tokens) labels << displayToken(token, 16);
    return labels;
  };
  const QStringList a = shown(m_comparison->a->tokenTexts);
  const QStringList b = shown(m_comparison->b->tokenTexts);
  if (kind == MapKind::a) return a;
  if (kind == MapKind::b) return b;
  QStringList labels;
  for (qsizetype i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i >= b.size())
      labels << tr("%1 (A only)").arg(a[i]);
    else if (i >= a.size())
      labels << tr("%1 (B only)").arg(b[i]);
    else
      labels << (a[i] == b[i] ? a[i] : QStringLiteral("%1 | %2").arg(a[i], b[i]));
  }
  return labels;
}

QString ComparePlot::mapTitle(int index) const {
  const MapKey& key = m_maps[static_cast<std::size_t>(index)].key;
  const AttentionSnapshot& a = *m_comparison->a;
  QString title = QStringLiteral("%1 \u00b7 %2 \u00b7 %3")
                      .arg(a.headLabel(key.head), a.maskLabel(key.maskRow), kindLabel(key.kind));
  if (key.kind == MapKind::difference)
    title += tr(" \u00b7 TV %1").arg(m_comparison->of(key.maskRow, key.head).total_variation, 0, 'f', 3);
  return title;
}

double ComparePlot::cellValue(int index, int query, int key) const {
  const Map& map = m_maps[static_cast<std::size_t>(index)];
  if (query < 0 || key < 0 || query >= map.tokens || key >= map.tokens)
    return std::numeric_limits<double>::quiet_NaN();
  return map.colorMap->data()->cell(key, query);
}

QCPRange ComparePlot::colorRange(int index) const {
  return m_maps[static_cast<std::size_t>(index)].colorMap->dataRange();
}

bool ComparePlot::cellAt(const QPointF& position, int* map, int* query, int* key) const {
  for (int index = 0; index < mapCount(); ++index) {
    const Map& candidate = m_maps[static_cast<std::size_t>(index)];
    if (!candidate.axisRect->rect().contains(position.toPoint())) continue;
    const int k = static_cast<int>(
        std::lround(candidate.axisRect->axis(QCPAxis::atBottom)->pixelToCoord(position.x())));
    const int q =
        static_cast<int>(std::lround(candidate.axisRect->axis(QCPAxis::atLeft)->pixelToCoord(position.y())));
    if (k < 0 || q < 0 || k >= candidate.tokens || q >= candidate.tokens) return false;
    *map = index;
    *query = q;
    *key = k;
    return true;
  }
  return false;
}

QPointF ComparePlot::cellCentre(int map, int query, int key) const {
  const QCPAxisRect* rect = m_maps[static_cast<std::size_t>(map)].axisRect;
  return {rect->axis(QCPAxis::atBottom)->coordToPixel(key), rect->axis(QCPAxis::atLeft)->coordToPixel(query)};
}

QString ComparePlot::toolTipFor(int map, int query, int key) const {
  if (map < 0 || map >= mapCount()) return {};
  const MapKey& mapKey = m_maps[static_cast<std::size_t>(map)].key;
  const AttentionSnapshot& a = *m_comparison->a;
  const AttentionSnapshot& b = *m_comparison->b;
  const auto weightOf = [&mapKey](const AttentionSnapshot& snapshot, int q, int k) {
    if (q >= snapshot.tokenCount() || k >= snapshot.tokenCount()) return tr("<i>no such token</i>");
    if (snapshot.isMasked(mapKey.maskRow, q, k)) return tr("<i>masked</i> (0)");
    return formatValue(snapshot.value(mapKey.maskRow, mapKey.head, Quantity::weights, q, k));
  };
  const auto tokens = [](const AttentionSnapshot& snapshot, int q, int k) {
    if (q >= snapshot.tokenCount() || k >= snapshot.tokenCount()) return QString();
    return QStringLiteral("%1 \u2192 %2")
        .arg(displayToken(snapshot.tokenTexts.at(q), 20).toHtmlEscaped(),
             displayToken(snapshot.tokenTexts.at(k), 20).toHtmlEscaped());
  };
  const int m = m_comparison->alignedCount();
  QString text = QStringLiteral(
                     "<span style='color:gray'>query %1, key %2 \u00b7 %3 \u00b7 %4</span>"
                     "<table cellspacing='0' cellpadding='1'>")
                     .arg(query + 1)
                     .arg(key + 1)
                     .arg(a.headLabel(mapKey.head), a.maskLabel(mapKey.maskRow).toHtmlEscaped());
  const auto row = [&text](const QString& name, const QString& detail, const QString& shown) {
    text += QStringLiteral("<tr><td>%1</td><td>&nbsp;%2</td><td align='right'>&nbsp;&nbsp;%3</td></tr>")
                .arg(name, detail, shown);
  };
  const bool aSide = mapKey.kind != MapKind::b;
  const bool bSide = mapKey.kind != MapKind::a;
  // A's and B's maps have their own sizes: their cells beyond m face no cell of the other text.
  if (aSide || query < m) row(tr("A weight"), tokens(a, query, key), weightOf(a, query, key));
  if (bSide || query < m) row(tr("B weight"), tokens(b, query, key), weightOf(b, query, key));
  if (query < m && key < m)
    row(tr("A \u2212 B"), QString(),
        formatValue(m_comparison->of(mapKey.maskRow, mapKey.head).weights_diff(query, key)));
  else
    row(tr("A \u2212 B"), QString(),
        tr("<i>no partner in %1</i>")
            .arg(a.tokenCount() > b.tokenCount() ? QStringLiteral("B") : QStringLiteral("A")));
  text += QStringLiteral("</table>");
  return text;
}

QSize ComparePlot::naturalSize() const {
  if (!m_comparison || !m_comparison->b) return {640, 400};
  const int columns = m_comparison->a->mechanismHeadCount();
  const int rows = m_comparison->a->maskCount() * gridRowsPerMask();
  return {columns * (kMapSide + kLabelRoom) + kScaleRoom, 40 + rows * (kMapSide + kLabelRoom + kTitleRoom)};
}

RecordedImage ComparePlot::record(const ComparisonPointer& comparison, const DisplayOptions& options,
                                  const ImageRequest& request) {
  ComparePlot plot;
  plot.setContent(comparison, options);
  RecordedImage recorded;
  recorded.request = request;
  if (request.format != ImageFormat::png) recorded.request.scale = 1.0;
  recorded.request.size = request.size.isEmpty() ? plot.naturalSize() : request.size;
  const QSize pixels = (QSizeF(recorded.request.size) * recorded.request.scale).toSize();
  if (recorded.request.size.width() < 16 || recorded.request.size.height() < 16 || pixels.width() > 16384 ||
      pixels.height() > 16384)
    throw Error(QStringLiteral("the image size %1x%2 is out of range (16 to 16384 pixels a side)")
                    .arg(pixels.width())
                    .arg(pixels.height())
                    .toStdString());
  plot.resize(recorded.request.size);
  QCPPainter painter(&recorded.picture);
  plot.toPainter(&painter, recorded.request.size.width(), recorded.request.size.height());
  painter.end();
  return recorded;
}

}  // namespace attnscope::ui

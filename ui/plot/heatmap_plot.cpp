#include "plot/heatmap_plot.hpp"

#include <QApplication>
#include <QFontMetrics>
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "plot/attention_color_map.hpp"
#include "plot/color_maps.hpp"
#include "plot/map_overlay.hpp"
#include "plot/masked_legend.hpp"
#include "plot/stat_readout.hpp"
#include "plot/token_axis_ticker.hpp"
#include "text.hpp"
#include "token_change.hpp"

namespace attnscope::ui {

namespace {

// A paint buffer that clears only the area the next replot draws in (HeatmapPlot::updateMapVisibility):
// the rest of a scrolling grid's window-wide buffers is out of view, and clearing two of them whole was a
// quarter of a replot.
class DrawnAreaBuffer : public QCPPaintBufferPixmap {
 public:
  // An empty area: everywhere.
  DrawnAreaBuffer(const QSize& size, double pixelRatio, const QRegion* area)
      : QCPPaintBufferPixmap(size, pixelRatio), m_area(area) {}

  void clear(const QColor& color) override {
    if (m_area->isEmpty()) {
      QCPPaintBufferPixmap::clear(color);
      return;
    }
    QPainter painter(&mBuffer);
    painter.setCompositionMode(QPainter::CompositionMode_Source);
    painter.setClipRegion(*m_area);
    painter.fillRect(m_area->boundingRect(), color);
  }

 private:
  const QRegion* m_area;
};

}  // namespace

namespace {

const QString kHighlightLayer = QStringLiteral("highlight");

// QCustomPlot keeps each axis's last 16 tick labels as pixmaps; a token axis shows up to a few hundred, so
// every replot shaped and drew all of them again (most of a long text's replot). The cache is protected:
// reached through pointers to members, which a derived class may name.
struct AxisPainterAccess : QCPAxis {
  static QCPAxisPainterPrivate* QCPAxis::*painter() { return &AxisPainterAccess::mAxisPainter; }
};
struct LabelCacheAccess : QCPAxisPainterPrivate {
  static auto cache() { return &LabelCacheAccess::mLabelCache; }
};
constexpr int kCachedLabelsPerAxis = 1024;

void enlargeLabelCache(QCPAxis* axis) {
  QCPAxisPainterPrivate* painter = axis->*AxisPainterAccess::painter();
  (painter->*LabelCacheAccess::cache()).setMaxCost(kCachedLabelsPerAxis);
}
constexpr double kRotatedLabels = -90.0;
constexpr int kMaxSettlePasses = 3;
constexpr int kRefineDelayMs = 15;  // coalesces the steps of one wheel turn

QString maskSlug(const MaskSpec& mask) {
  switch (mask.kind) {
    case MaskKind::none:
      return QStringLiteral("none");
    case MaskKind::causal:
      return QStringLiteral("causal");
    case MaskKind::window:
      return QStringLiteral("window%1").arg(mask.size);
    case MaskKind::prefix:
      return QStringLiteral("prefix%1").arg(mask.size);
    case MaskKind::file:
      return QStringLiteral("file");
  }
  return QStringLiteral("mask");
}

// Attached, a map follows its bar's range and gradient through their signals; attaching it again disconnected
// and connected them all, for every map of every snapshot.
void attachScale(QCPColorMap* colorMap, QCPColorScale* scale) {
  if (colorMap->colorScale() != scale) colorMap->setColorScale(scale);
}

// The bar's range and its numbers: both ends and the middle, as the exported figure's bar prints them. The
// numbers take the same width whatever they are (room for "−0.000123"), so the maps keep their size when
// a long text's cells, built for that size off the GUI thread, bring the range.
// `maximum`: the largest value drawn with it, which may lie above the range's top (see ColorMaps::rangeFor).
void setScaleRange(QCPColorScale* scale, const QCPRange& range, double maximum) {
  scale->setDataRange(range);
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  const QFontMetrics metrics(scale->axis()->tickLabelFont());
  int widest = 0;
  const QVector<double> ticks = ColorMaps::ticksFor(range);
  const QStringList texts = ColorMaps::tickTexts(range, maximum);
  for (int i = 0; i < ticks.size(); ++i) {
    ticker->addTick(ticks[i], texts[i]);
    widest = std::max(widest, metrics.horizontalAdvance(texts[i]));
  }
  scale->axis()->setTicker(ticker);
  constexpr int kPadding = 5;  // QCPAxis's own
  const int reserved = metrics.horizontalAdvance(QStringLiteral("\u22120.000123"));
  scale->axis()->setPadding(kPadding + std::max(0, reserved - widest));
}

QFont pixelFont(int pixels, bool bold = false) {
  // Pixel sizes, so a PDF (72 dpi), an SVG and the screen all draw text at the same size relative to the
  // maps.
  QFont font = QApplication::font();
  font.setPixelSize(pixels);
  font.setBold(bold);
  return font;
}

}  // namespace

HeatmapPlot::HeatmapPlot(QWidget* parent)
    : QCustomPlot(parent),
      m_tickFont(pixelFont(12)),
      m_titleFont(pixelFont(13, true)),
      m_readoutFont(pixelFont(11)),
      m_noteFont(pixelFont(12)) {
  setBackground(QBrush(Qt::white));
  // A replot draws the buffers and asks for a paint, which Qt makes in an event of its own: QCustomPlot's
  // default painted at once, inside the event that delivered a snapshot, together with every other panel
  // that snapshot had changed (a 14 ms block of the GUI thread for a GPT-2 edit).
  setPlottingHint(QCP::phImmediateRefresh, false);
  plotLayout()->clear();  // no default axis rect: the grid is built per snapshot
  // Two full-size paint buffers, each cleared and composited on every replot: everything below, and the
  // hover highlight on top (replotted alone as the mouse moves). QCustomPlot's "overlay" layer is buffered
  // for selection rectangles, which this plot has none of.
  layer(QStringLiteral("overlay"))->setMode(QCPLayer::lmLogical);
  addLayer(kHighlightLayer, layer(QStringLiteral("overlay")), QCustomPlot::limAbove);
  layer(kHighlightLayer)->setMode(QCPLayer::lmBuffered);
  // The layout sizes each axis after its ticks were generated; a second pass thins or rotates the labels for
  // the final size.
  connect(this, &QCustomPlot::afterReplot, this, [this] {
    if (settle() && m_settlePasses++ < kMaxSettlePasses)
      replot(QCustomPlot::rpQueuedReplot);
    else
      m_settlePasses = 0;
    // A zoom, a resize or a new reduction: the cells in view are rebuilt for it.
    if (isVisible() && needsRefine()) m_refineTimer.start();
  });
  // Where the maps land is known once the layout is done, before anything is drawn.
  connect(this, &QCustomPlot::afterLayout, this, &HeatmapPlot::updateMapVisibility);
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  connect(this, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent* event) {
    int map = -1, query = -1, key = -1;
    if (cellAt(event->position(), &map, &query, &key)) resetZoom(map);
  });
  m_refinePool.setMaxThreadCount(1);
  m_refineTimer.setObjectName(QStringLiteral("refineTimer"));
  m_refineTimer.setSingleShot(true);
  m_refineTimer.setInterval(kRefineDelayMs);
  connect(&m_refineTimer, &QTimer::timeout, this, &HeatmapPlot::refine);
}

HeatmapPlot::~HeatmapPlot() {
  m_refineJob.cancel();  // the job in flight stops between maps
  m_refinePool.waitForDone();
  clearMaps();
}

std::vector<Quantity> HeatmapPlot::shownQuantities() const {
  std::vector<Quantity> quantities;
  if (!m_snapshot) return quantities;
  for (const Quantity quantity : m_options.quantities)
    if (m_snapshot->hasQuantity(quantity)) quantities.push_back(quantity);
  return quantities;
}

std::vector<MapKey> HeatmapPlot::layoutKeys() const {
  if (!m_snapshot || m_snapshot->tokenCount() == 0) return {};
  if (m_only) return {*m_only};
  std::vector<MapKey> keys;
  for (const Quantity quantity : shownQuantities())
    for (int row = 0; row < m_snapshot->maskCount(); ++row)
      for (int head = 0; head < m_snapshot->headCount(); ++head) keys.push_back(MapKey{row, head, quantity});
  return keys;
}

void HeatmapPlot::setContent(SnapshotPointer snapshot, const DisplayOptions& options,
                             std::optional<MapKey> only) {
  const bool sharedChanged = options.sharedRange != m_options.sharedRange;
  // Only the drawing changed (a colour map, say): the cells stay, no n² refill.
  bool refill = snapshot != m_snapshot;
  m_snapshot = std::move(snapshot);
  m_options = options;
  m_only = only;
  const std::vector<MapKey> keys = layoutKeys();
  bool sameShape = !sharedChanged && keys.size() == m_maps.size();
  for (std::size_t i = 0; sameShape && i < keys.size(); ++i) sameShape = keys[i] == m_maps[i].key;
  // The masked-cell key appears or disappears with the masks, which changes the layout too.
  bool rebuildNeeded = !sameShape || m_maps.empty();
  if (!rebuildNeeded && m_snapshot && plotLayout()->rowCount() > 0) {
    const bool legendShown =
        qobject_cast<MaskedLegend*>(plotLayout()->element(plotLayout()->rowCount() - 1, 0));
    const bool anyMasked = m_snapshot->anyMasked;
    const bool noteWanted = m_snapshot->tokenCount() > AttentionColorMap::kLargestBuiltHere;
    rebuildNeeded = legendShown != anyMasked || (m_note != nullptr) != noteWanted;
  }
  if (rebuildNeeded) {
    rebuild(keys);
    refill = true;
  }
  // Whatever is being built off the GUI thread is for the previous content.
  m_refineJob.cancel();
  m_refineTimer.stop();
  m_refining = false;
  fill(refill);
  updateRanges();
  updateNote();
  replot();
}

bool HeatmapPlot::updateMapVisibility() {
  // A scrolling grid has most of its maps out of view (16 of 24 at 12 heads in a 1600-pixel window), and
  // drawing them was most of a replot. A scroll that brings one into view replots at once (moveEvent).
  const QRect visible = visibleRegion().boundingRect();
  bool changed = false;
  const auto show = [&](QCPLayoutElement* element) {
    const bool drawn = visible.isEmpty() || visible.intersects(element->outerRect());
    if (element->visible() != drawn) {
      element->setVisible(drawn);  // hides its children: a map's title, axes, cells, overlay, colour bar
      changed = true;
    }
    if (drawn) m_drawnArea += element->outerRect();
  };
  // What the replot draws in, for the buffers to clear: all of it when the layout moved (a map's old pixels
  // would stay beside the new ones).
  std::vector<QRect> layout;
  for (const Map& map : m_maps) layout.push_back(map.cell->outerRect());
  for (const auto& [quantity, scale] : m_sharedScales) layout.push_back(scale->outerRect());
  const bool moved = layout != m_layoutRects || size() != m_layoutSize;
  m_layoutRects = std::move(layout);
  m_layoutSize = size();
  m_drawnArea = QRegion(visible);
  for (Map& map : m_maps) show(map.cell);
  for (const auto& [quantity, scale] : m_sharedScales) show(scale);
  for (int row = 0; row < plotLayout()->rowCount(); ++row)
    if (QCPLayoutElement* element = plotLayout()->element(row, 0);
        element && !qobject_cast<QCPLayoutGrid*>(element))
      m_drawnArea += element->outerRect();  // the note and the masked-cell key, under the maps
  if (moved || visible.isEmpty()) m_drawnArea = QRegion();
  // Every buffer a DrawnAreaBuffer (QCustomPlot makes plain ones; it reuses those it holds).
  for (QSharedPointer<QCPAbstractPaintBuffer>& buffer : mPaintBuffers)
    if (!dynamic_cast<DrawnAreaBuffer*>(buffer.data()))
      buffer.reset(new DrawnAreaBuffer(buffer->size(), buffer->devicePixelRatio(), &m_drawnArea));
  return changed;
}

void HeatmapPlot::showMapsInView() {
  // At once, before the scrolled view is painted with the maps missing.
  if (updateMapVisibility()) replot();
}

bool HeatmapPlot::isMapDrawn(int index) const {
  return m_maps[static_cast<std::size_t>(index)].cell->realVisibility();
}

void HeatmapPlot::moveEvent(QMoveEvent* event) {
  QCustomPlot::moveEvent(event);
  showMapsInView();  // the scroll area scrolls by moving the plot
}

void HeatmapPlot::clearMaps() {
  for (Map& map : m_maps) delete map.overlay;
  m_maps.clear();
  m_sharedScales.clear();
  m_mapScales.clear();
  clearPlottables();
  plotLayout()->clear();
  m_note = nullptr;
  delete m_marginGroup;
  m_marginGroup = nullptr;
}

void HeatmapPlot::setupScale(QCPColorScale* scale, Quantity quantity) {
  scale->setType(QCPAxis::atRight);
  scale->setBarWidth(12);
  scale->setRangeDrag(false);
  scale->setRangeZoom(false);
  scale->setLabel(colorScaleLabel(quantity));
  scale->axis()->setLabelFont(m_tickFont);
  scale->axis()->setTickLabelFont(m_tickFont);
  scale->axis()->setNumberFormat(QStringLiteral("g"));
  scale->axis()->setNumberPrecision(3);
  scale->setGradient(ColorMaps::forQuantity(quantity, m_options.colorMap));
  scale->setMarginGroup(QCP::msTop | QCP::msBottom, m_marginGroup);
}

void HeatmapPlot::rebuild(const std::vector<MapKey>& keys) {
  clearMaps();
  if (keys.empty()) return;
  m_marginGroup = new QCPMarginGroup(this);
  QCPLayoutGrid* top = plotLayout();
  top->setRowSpacing(16);
  top->setMargins(QMargins(6, 6, 6, 6));

  // Grid rows and columns of each key within its quantity block.
  std::map<int, int> rowOf, columnOf;
  for (const MapKey& key : keys) {
    rowOf.emplace(key.maskRow, 0);
    columnOf.emplace(key.head, 0);
  }
  int index = 0;
  for (auto& [row, position] : rowOf) position = index++;
  index = 0;
  for (auto& [head, position] : columnOf) position = index++;

  int blockRow = 0;
  QCPLayoutGrid* grid = nullptr;
  QCPLayoutGrid* block = nullptr;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const MapKey& key = keys[i];
    if (i == 0 || keys[i - 1].quantity != key.quantity) {
      block = new QCPLayoutGrid;
      top->addElement(blockRow++, 0, block);
      block->setColumnSpacing(14);
      grid = new QCPLayoutGrid;
      block->addElement(0, 0, grid);
      grid->setRowSpacing(14);
      grid->setColumnSpacing(22);
      if (m_options.sharedRange) {
        auto* scale = new QCPColorScale(this);
        block->addElement(0, 1, scale);
        block->setColumnStretchFactor(1, 0.001);
        setupScale(scale, key.quantity);
        m_sharedScales.emplace_back(key.quantity, scale);
      }
    }
    Map map;
    map.key = key;
    auto* cell = new QCPLayoutGrid;
    grid->addElement(rowOf[key.maskRow], columnOf[key.head], cell);
    map.cell = cell;
    cell->setRowSpacing(2);
    map.title = new MapTitle(this, m_titleFont);
    map.title->setTextColor(QColor(0x20, 0x20, 0x20));
    cell->addElement(0, 0, map.title);
    map.readout = new MapTitle(this, m_readoutFont);
    map.readout->setElided(true);
    map.readout->setTextColor(QColor(0x50, 0x50, 0x50));
    map.readout->setMargins(QMargins(2, 0, 2, 0));
    cell->addElement(1, 0, map.readout);
    map.axisRect = new QCPAxisRect(this, true);
    if (m_options.sharedRange) {
      cell->addElement(2, 0, map.axisRect);
    } else {
      auto* row = new QCPLayoutGrid;
      row->setColumnSpacing(6);
      row->addElement(0, 0, map.axisRect);
      auto* scale = new QCPColorScale(this);
      row->addElement(0, 1, scale);
      row->setColumnStretchFactor(1, 0.001);
      setupScale(scale, key.quantity);
      m_mapScales.push_back(scale);
      cell->addElement(2, 0, row);
    }
    map.axisRect->setMarginGroup(QCP::msAll, m_marginGroup);
    setupAxes(map);
    m_maps.push_back(map);
  }

  if (m_snapshot->tokenCount() > AttentionColorMap::kLargestBuiltHere) {
    m_note = new QCPTextElement(this, QString(), m_noteFont);
    m_note->setTextColor(QColor(0x40, 0x40, 0x40));
    top->addElement(blockRow++, 0, m_note);
  }
  if (m_snapshot->anyMasked) top->addElement(blockRow, 0, new MaskedLegend(this, m_noteFont));
}

void HeatmapPlot::setupAxes(Map& map) {
  QCPAxis* keys = map.axisRect->axis(QCPAxis::atBottom);
  QCPAxis* queries = map.axisRect->axis(QCPAxis::atLeft);
  for (QCPAxis* axis : {keys, queries}) {
    axis->setTickLength(0, 0);
    axis->setSubTicks(false);
    axis->setBasePen(Qt::NoPen);
    axis->grid()->setVisible(false);
    axis->setTickLabelFont(m_tickFont);
    axis->setTickLabelColor(QColor(0x20, 0x20, 0x20));
    axis->setTickLabelPadding(4);
    enlargeLabelCache(axis);
  }
  for (QCPAxis* hidden : {map.axisRect->axis(QCPAxis::atTop), map.axisRect->axis(QCPAxis::atRight)}) {
    hidden->setVisible(false);
    hidden->grid()->setVisible(false);
  }
  queries->setRangeReversed(true);  // the first token on top, in text order
  auto columnTicker = QSharedPointer<TokenAxisTicker>::create(keys, QStringList());
  auto rowTicker = QSharedPointer<TokenAxisTicker>::create(queries, QStringList());
  keys->setTicker(columnTicker);
  queries->setTicker(rowTicker);
  map.columns = columnTicker.data();
  map.rows = rowTicker.data();

  map.colorMap = new AttentionColorMap(keys, queries);
  map.overlay = new MapOverlay(map.axisRect, kHighlightLayer);
  map.axisRect->setRangeDrag(Qt::Horizontal | Qt::Vertical);
  map.axisRect->setRangeZoom(Qt::Horizontal | Qt::Vertical);
  for (QCPAxis* axis : {keys, queries})
    connect(axis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            [this, axis] { clampRange(axis); });
}

void HeatmapPlot::clampRange(QCPAxis* axis) {
  if (!m_snapshot) return;
  // Within the map, and at least one token wide.
  const double lowest = -0.5, highest = m_snapshot->tokenCount() - 0.5;
  const QCPRange range = axis->range();
  const double size = std::clamp(range.size(), 1.0, highest - lowest);
  const double lower = std::clamp(range.lower, lowest, highest - size);
  axis->setRange(lower, lower + size);
}

void HeatmapPlot::fill(bool values) {
  if (!m_snapshot) return;
  const int n = m_snapshot->tokenCount();
  const bool severalQuantities = shownQuantities().size() > 1 || m_only.has_value();
  std::set<int> heads;
  std::set<std::pair<int, Quantity>> rows;
  for (const Map& map : m_maps) {
    heads.insert(map.key.head);
    rows.emplace(map.key.maskRow, map.key.quantity);
  }
  const QSize estimate = pixelsPerMap(static_cast<int>(heads.size()), static_cast<int>(rows.size()));
  if (const QStringList& tokens = m_snapshot->tokenTexts; tokens != m_tokenTexts) {
    // An edit changes a few tokens: the labels before the first changed one and after the last stay
    // (eliding and measuring a long text's 4,096 labels was 2 ms of every snapshot).
    const TokenChange change =
        tokenChange(m_tokenTexts.size(), tokens.size(),
                    [&](qsizetype before, qsizetype after) { return m_tokenTexts[before] == tokens[after]; });
    QStringList labels = m_tokenLabels.mid(0, change.front);
    std::vector<int> widths(m_labelWidthOf.begin(), m_labelWidthOf.begin() + change.front);
    for (qsizetype token = change.front; token < tokens.size() - change.back; ++token) {
      labels << displayToken(tokens[token], TokenAxisTicker::kDefaultMaxCharacters);
      widths.push_back(m_labelWidths.width(m_tickFont, labels.back()));
    }
    labels << m_tokenLabels.mid(m_tokenLabels.size() - change.back);
    widths.insert(widths.end(), m_labelWidthOf.end() - change.back, m_labelWidthOf.end());
    m_tokenTexts = tokens;
    m_tokenLabels = std::move(labels);
    m_labelWidthOf = std::move(widths);
  }
  const int widestLabel =
      m_labelWidthOf.empty() ? 0 : *std::max_element(m_labelWidthOf.begin(), m_labelWidthOf.end());
  bool pending = false;
  for (std::size_t i = 0; i < m_maps.size(); ++i) {
    Map& map = m_maps[i];
    const MapKey& key = map.key;
    QString title =
        m_snapshot->headLabel(key.head) + QStringLiteral(" \u00b7 ") + m_snapshot->maskLabel(key.maskRow);
    if (severalQuantities || key.quantity != Quantity::weights)
      title += QStringLiteral(" \u00b7 ") + toString(key.quantity);
    map.title->setText(title);
    map.readout->setText(m_options.statReadouts ? statReadout(*m_snapshot, key.maskRow, key.head)
                                                : QString());
    map.rows->setTokens(m_tokenTexts, m_tokenLabels, widestLabel);
    map.columns->setTokens(m_tokenTexts, m_tokenLabels, widestLabel);
    // A zoom survives an edit that keeps the token count.
    if (map.colorMap->tokenCount() != n) {
      map.axisRect->axis(QCPAxis::atBottom)->setRange(-0.5, n - 0.5);
      map.axisRect->axis(QCPAxis::atLeft)->setRange(-0.5, n - 0.5);
    }
    map.colorMap->setGradient(ColorMaps::forQuantity(key.quantity, m_options.colorMap));
    if (values)
      pending = !map.colorMap->setValues(*m_snapshot, key.maskRow, key.head, key.quantity,
                                         wantedRegion(map, devicePixelRatioF(), estimate)) ||
                pending;
  }
  settle();
  if (pending && isVisible()) m_refineTimer.start();
}

CellRegion HeatmapPlot::wantedRegion(const Map& map, double pixelRatio, QSize estimate) const {
  const int n = m_snapshot->tokenCount();
  const QCPRange keys = map.axisRect->axis(QCPAxis::atBottom)->range();
  const QCPRange queries = map.axisRect->axis(QCPAxis::atLeft)->range();
  const auto first = [](const QCPRange& range) { return static_cast<int>(std::floor(range.lower + 0.5)); };
  const auto end = [](const QCPRange& range) { return static_cast<int>(std::ceil(range.upper + 0.5)); };
  const bool laidOut = map.axisRect->width() > 0 && map.axisRect->height() > 0;
  const int keyPixels =
      laidOut ? static_cast<int>(std::ceil(map.axisRect->width() * pixelRatio)) : estimate.width();
  const int queryPixels =
      laidOut ? static_cast<int>(std::ceil(map.axisRect->height() * pixelRatio)) : estimate.height();
  return CellRegion::fitting(n, first(keys), end(keys), first(queries), end(queries), keyPixels, queryPixels,
                             m_options.reduction);
}

QSize HeatmapPlot::pixelsPerMap(int columns, int rows) const {
  const double ratio = devicePixelRatioF();
  columns = std::max(1, columns);
  rows = std::max(1, rows);
  if (!m_maps.empty() && static_cast<int>(m_maps.size()) == columns * rows) {
    QSize largest;
    for (const Map& map : m_maps) largest = largest.expandedTo(map.axisRect->rect().size());
    if (!largest.isEmpty())
      return QSize(static_cast<int>(std::ceil(largest.width() * ratio)),
                   static_cast<int>(std::ceil(largest.height() * ratio)));
  }
  // Not laid out yet: a share of the plot, generous (labels and titles take some of it), so the first cells
  // are rarely coarser than the pixels.
  return QSize(static_cast<int>(std::ceil(std::max(64, width() / columns) * ratio)),
               static_cast<int>(std::ceil(std::max(64, height() / rows) * ratio)));
}

bool HeatmapPlot::needsRefine() const {
  if (!m_snapshot || m_snapshot->tokenCount() == 0) return false;
  const QSize none;
  for (const Map& map : m_maps)
    if (map.axisRect->width() > 0 &&
        !map.colorMap->region().serves(wantedRegion(map, devicePixelRatioF(), none)))
      return true;
  return false;
}

void HeatmapPlot::refine() {
  if (!m_snapshot) return;
  struct Job {
    std::size_t index;
    MapKey key;
    CellRegion region;
  };
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < m_maps.size(); ++i) {
    const Map& map = m_maps[i];
    if (map.axisRect->width() <= 0) continue;
    const CellRegion wanted = wantedRegion(map, devicePixelRatioF(), QSize());
    if (!map.colorMap->region().serves(wanted)) jobs.push_back(Job{i, map.key, wanted});
  }
  if (jobs.empty()) return;
  m_refining = true;
  const SnapshotPointer snapshot = m_snapshot;
  using Built = std::shared_ptr<std::vector<MapCells>>;
  const auto build = [snapshot, jobs](const CancelToken& cancel) {
    auto built = std::make_shared<std::vector<MapCells>>();
    for (const Job& job : jobs) {
      if (cancel.cancelled()) break;  // a newer zoom or snapshot
      built->push_back(buildMapCells(*snapshot, job.key.maskRow, job.key.head, job.key.quantity, job.region));
    }
    return built;
  };
  m_refineJob.start(&m_refinePool, this, build, [this, snapshot, jobs](const Built& built) {
    if (snapshot != m_snapshot) return;
    m_refining = false;
    const int n = snapshot->tokenCount();
    for (std::size_t i = 0; i < built->size(); ++i)
      if (jobs[i].index < m_maps.size() && m_maps[jobs[i].index].key == jobs[i].key)
        m_maps[jobs[i].index].colorMap->setCells(std::move((*built)[i]), n);
    updateRanges();
    updateNote();
    replot(QCustomPlot::rpQueuedReplot);
    emit refined();
  });
}

void HeatmapPlot::updateNote() {
  if (!m_note) return;
  const QString note = gridNote();
  if (note != m_note->text()) m_note->setText(note);
}

QString HeatmapPlot::gridNote() const {
  // The coarsest map speaks for the grid: maps differ only while one is zoomed or being rebuilt.
  CellRegion coarsest;
  for (const Map& map : m_maps) {
    const CellRegion& region = map.colorMap->region();
    if (region.keyBlock * region.queryBlock > coarsest.keyBlock * coarsest.queryBlock) coarsest = region;
  }
  if (!coarsest.isReduced())
    return m_note ? tr("Wheel: zoom into a map \u00b7 double-click: all of it") : QString();
  return tr("Long text: each drawn cell is the %1 \u00b7 the wheel zooms into a map down to single cells, "
            "double-click shows all of it")
      .arg(coarsest.note());
}

QString HeatmapPlot::reductionNote(int index) const {
  return m_maps[index].colorMap->region().note();
}

void HeatmapPlot::zoomMap(int index, double keyLower, double keyUpper, double queryLower, double queryUpper) {
  QCPAxisRect* rect = m_maps[index].axisRect;
  rect->axis(QCPAxis::atBottom)->setRange(keyLower - 0.5, keyUpper - 0.5);
  rect->axis(QCPAxis::atLeft)->setRange(queryLower - 0.5, queryUpper - 0.5);
  replot();
}

void HeatmapPlot::resetZoom(int index) {
  const int n = m_snapshot ? m_snapshot->tokenCount() : 0;
  zoomMap(index, 0, n, 0, n);
}

void HeatmapPlot::updateRanges() {
  if (m_options.sharedRange) {
    for (const auto& [quantity, scale] : m_sharedScales) {
      // The top is the largest of the maps' percentiles, so that no map has more than 1 % of its cells
      // above it.
      double minimum = std::numeric_limits<double>::infinity(), maximum = -minimum, percentile = maximum;
      for (const Map& map : m_maps) {
        if (map.key.quantity != quantity || std::isnan(map.colorMap->minimum())) continue;
        minimum = std::min(minimum, map.colorMap->minimum());
        maximum = std::max(maximum, map.colorMap->maximum());
        percentile = std::fmax(percentile, map.colorMap->percentile99());
      }
      scale->setGradient(ColorMaps::forQuantity(quantity, m_options.colorMap));
      setScaleRange(scale, ColorMaps::rangeFor(quantity, minimum, maximum, percentile), maximum);
      for (const Map& map : m_maps)
        if (map.key.quantity == quantity) attachScale(map.colorMap, scale);
    }
  } else {
    for (std::size_t i = 0; i < m_maps.size() && i < m_mapScales.size(); ++i) {
      const Map& map = m_maps[i];
      QCPColorScale* scale = m_mapScales[i];
      scale->setGradient(ColorMaps::forQuantity(map.key.quantity, m_options.colorMap));
      const AttentionColorMap* cells = map.colorMap;
      setScaleRange(
          scale,
          ColorMaps::rangeFor(map.key.quantity, cells->minimum(), cells->maximum(), cells->percentile99()),
          cells->maximum());
      attachScale(map.colorMap, scale);
    }
  }
}

bool HeatmapPlot::settle() {
  // Maps that show all of their tokens label the same tokens: rotated when any of them needs it, thinned by
  // the step of the most crowded one (a pixel less of width must not label other tokens). A zoomed map
  // labels its own, and zooming it leaves the others' labels alone.
  const int n = m_snapshot ? m_snapshot->tokenCount() : 0;
  const auto whole = [n](const QCPAxis* axis) {
    return axis->range().lower <= -0.5 + 1e-6 && axis->range().upper >= n - 0.5 - 1e-6;
  };
  bool changed = false;
  const auto rotate = [&changed](QCPAxis* axis, bool rotated) {
    // Horizontal labels while each fits its column, else rotated (they then thin out by font height).
    const double rotation = rotated ? kRotatedLabels : 0.0;
    if (rotation == axis->tickLabelRotation()) return;
    axis->setTickLabelRotation(rotation);
    changed = true;
  };
  bool rotateWhole = false;
  for (Map& map : m_maps) {
    QCPAxis* keys = map.axisRect->axis(QCPAxis::atBottom);
    if (map.axisRect->width() <= 0) continue;
    const double cellWidth = map.axisRect->width() / std::max(1.0, keys->range().size());
    const bool rotated = map.columns->widestLabel() + 6 > cellWidth;
    if (whole(keys))
      rotateWhole = rotateWhole || rotated;
    else
      rotate(keys, rotated);
  }
  int columnStep = 1, rowStep = 1;
  for (Map& map : m_maps) {
    QCPAxis* keys = map.axisRect->axis(QCPAxis::atBottom);
    if (map.axisRect->width() > 0 && whole(keys)) rotate(keys, rotateWhole);
  }
  for (const Map& map : m_maps) {
    if (whole(map.axisRect->axis(QCPAxis::atBottom)))
      columnStep = std::max(columnStep, map.columns->naturalStep());
    if (whole(map.axisRect->axis(QCPAxis::atLeft))) rowStep = std::max(rowStep, map.rows->naturalStep());
  }
  for (Map& map : m_maps) {
    map.columns->setSharedStep(whole(map.axisRect->axis(QCPAxis::atBottom)) ? columnStep : 0);
    map.rows->setSharedStep(whole(map.axisRect->axis(QCPAxis::atLeft)) ? rowStep : 0);
    changed = changed || map.rows->isStale() || map.columns->isStale();
  }
  return changed;
}

QString HeatmapPlot::mapTitle(int index) const {
  return m_maps[index].title->text();
}

QString HeatmapPlot::mapReadout(int index) const {
  return m_maps[index].readout->text();
}

QString HeatmapPlot::mapReadoutToolTip(int index) const {
  if (!m_snapshot || mapReadout(index).isEmpty()) return QString();
  const MapKey& key = m_maps[index].key;
  return statReadoutToolTip(*m_snapshot, key.maskRow, key.head);
}

int HeatmapPlot::readoutAt(const QPointF& position) const {
  for (std::size_t i = 0; i < m_maps.size(); ++i) {
    const MapTitle* readout = m_maps[i].readout;
    if (!readout->text().isEmpty() && readout->outerRect().contains(position.toPoint()))
      return static_cast<int>(i);
  }
  return -1;
}

QStringList HeatmapPlot::rowLabels(int index) const {
  return m_maps[index].rows->labels();
}

QStringList HeatmapPlot::columnLabels(int index) const {
  return m_maps[index].columns->labels();
}

QStringList HeatmapPlot::shownLabels(int index, Qt::Orientation orientation) const {
  const QCPAxis* axis =
      m_maps[index].axisRect->axis(orientation == Qt::Horizontal ? QCPAxis::atBottom : QCPAxis::atLeft);
  const QVector<QString> labels = axis->tickVectorLabels();  // a copy each call
  return QStringList(labels.begin(), labels.end());
}

QCPRange HeatmapPlot::colorRange(int index) const {
  return m_maps[index].colorMap->dataRange();
}

int HeatmapPlot::colorScaleCount() const {
  return static_cast<int>(m_sharedScales.size() + m_mapScales.size());
}

QStringList HeatmapPlot::colorScaleLabels(int index) const {
  const auto shared = static_cast<int>(m_sharedScales.size());
  const QCPColorScale* scale = index < shared ? m_sharedScales[static_cast<std::size_t>(index)].second
                                              : m_mapScales[static_cast<std::size_t>(index - shared)];
  const auto ticker = scale->axis()->ticker().dynamicCast<QCPAxisTickerText>();
  return ticker ? QStringList(ticker->ticks().values()) : QStringList();
}

std::vector<int> HeatmapPlot::flatMaps() const {
  std::vector<int> flat;
  for (std::size_t i = 0; i < m_maps.size(); ++i) {
    const AttentionColorMap* map = m_maps[i].colorMap;
    const double top = std::fmin(map->maximum(), map->percentile99());
    // Nearly uniform weights (the book's sentence without a mask: 0.15 to 0.17) look alike under any range,
    // so they are not flattened by this one; weights that differ by a factor of two or more are.
    const bool varies = isScore(m_maps[i].key.quantity) ? top > map->minimum() : top >= 2.0 * map->minimum();
    if (varies && ColorMaps::shareOf(map->dataRange(), map->minimum(), top) < ColorMaps::kFlatShare)
      flat.push_back(static_cast<int>(i));
  }
  return flat;
}

QString HeatmapPlot::fileStem(const AttentionSnapshot& snapshot, const MapKey& key) {
  QString head = QStringLiteral("head%1").arg(key.head);
  if (snapshot.isSummary(key.head))
    head = snapshot.headSummary == HeadSummary::rollout
               ? QStringLiteral("rollout")
               : QStringLiteral("%1-of-heads").arg(toString(snapshot.headSummary));
  const QString layer = snapshot.model ? QStringLiteral("layer%1-").arg(snapshot.model->layer) : QString();
  return QStringLiteral("%1%2-%3-%4")
      .arg(layer, head, maskSlug(snapshot.rows[key.maskRow].mask), slugOf(key.quantity));
}

QString HeatmapPlot::mapFileStem(int index) const {
  return fileStem(*m_snapshot, m_maps[index].key);
}

bool HeatmapPlot::cellAt(const QPointF& position, int* map, int* query, int* key) const {
  for (std::size_t i = 0; i < m_maps.size(); ++i) {
    const QCPAxisRect* rect = m_maps[i].axisRect;
    if (!rect->rect().contains(position.toPoint())) continue;
    const int n = m_maps[i].colorMap->tokenCount();
    if (n == 0) return false;
    const int k = static_cast<int>(std::lround(rect->axis(QCPAxis::atBottom)->pixelToCoord(position.x())));
    const int q = static_cast<int>(std::lround(rect->axis(QCPAxis::atLeft)->pixelToCoord(position.y())));
    if (k < 0 || k >= n || q < 0 || q >= n) return false;
    *map = static_cast<int>(i);
    *query = q;
    *key = k;
    return true;
  }
  return false;
}

QPointF HeatmapPlot::cellCentre(int map, int query, int key) const {
  const QCPAxisRect* rect = m_maps[map].axisRect;
  return QPointF(rect->axis(QCPAxis::atBottom)->coordToPixel(key),
                 rect->axis(QCPAxis::atLeft)->coordToPixel(query));
}

void HeatmapPlot::setHover(int query, int key) {
  bool changed = false;
  for (Map& map : m_maps) changed = map.overlay->setHover(query, key) || changed;
  // Every new snapshot clears the hover: usually there was none, and nothing needs drawing.
  if (changed) layer(kHighlightLayer)->replot();
}

void HeatmapPlot::setSelection(int query, std::optional<MapKey> explained) {
  // Every snapshot announces the selection again, usually the same, right after the replot that drew it.
  bool changed = false;
  for (Map& map : m_maps) {
    const bool isExplained =
        explained && explained->maskRow == map.key.maskRow && explained->head == map.key.head;
    changed = map.overlay->setSelectedQuery(query, isExplained) || changed;
  }
  if (changed) layer(kHighlightLayer)->replot();
}

QSize HeatmapPlot::naturalSize() const {
  if (m_maps.empty()) return QSize(800, 600);
  int rows = 0, columns = 0;
  {
    std::map<std::pair<int, int>, int> blockRows;
    std::map<int, int> heads;
    for (const Map& map : m_maps) {
      blockRows[{static_cast<int>(map.key.quantity), map.key.maskRow}] = 0;
      heads[map.key.head] = 0;
    }
    rows = static_cast<int>(blockRows.size());
    columns = static_cast<int>(heads.size());
  }
  const int n = m_snapshot ? m_snapshot->tokenCount() : 1;
  const int side = std::clamp(n * 42, 260, 560);
  const int labels = 110;  // token labels (elided) and the title
  const int scales = m_options.sharedRange ? 90 : columns * 80;
  const int width = columns * (side + labels) + scales + 24;
  const int height = rows * (side + labels) + 40;
  return QSize(std::clamp(width, 320, 8000), std::clamp(height, 240, 8000));
}

}  // namespace attnscope::ui

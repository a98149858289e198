#include "panels/model_overview.hpp"

#include <QComboBox>
#include <QFontMetrics>
#include <QMouseEvent>
#include <QPainter>
#include <QSettings>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>

#include "attnscope/error.hpp"
#include "compute/snapshot_probe.hpp"
#include "panels/head_stats_model.hpp"
#include "plot/color_maps.hpp"
#include "plot/figure_renderer.hpp"

namespace attnscope::ui {
namespace {

// For the size hints: the layout adds headers and gaps around the cells.
constexpr int kLabelWidth = 30;
constexpr int kLabelHeight = 16;
constexpr int kGap = 5;
constexpr int kMinimumCell = 14;
constexpr int kPreferredCell = 30;

}  // namespace

ModelOverview::ModelOverview(QWidget* parent) : QWidget(parent), m_shows(new QComboBox(this)) {
  setMouseTracking(true);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
  m_shows->setObjectName(QStringLiteral("overviewShows"));
  m_shows->addItem(tr("weights of every head"), -1);
  for (int i = 0; i < HeadStatsModel::kStatistics; ++i) {
    m_shows->addItem(statisticName(i) + QStringLiteral(" — ") + statisticDescription(i), i);
    m_shows->setItemData(i + 1, statisticDescription(i), Qt::ToolTipRole);
  }
  m_shows->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  m_shows->setMinimumContentsLength(12);
  m_shows->setToolTip(tr("What each small map shows: its weights, or one statistic of its head"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_shows, 0, Qt::AlignLeft);
  layout->addStretch(1);
  const int remembered = QSettings().value(QStringLiteral("overview/statistic"), -1).toInt();
  m_statistic = remembered >= -1 && remembered < HeadStatsModel::kStatistics ? remembered : -1;
  m_shows->setCurrentIndex(m_statistic + 1);
  connect(m_shows, &QComboBox::currentIndexChanged, this,
          [this](int index) { showStatistic(m_shows->itemData(index).toInt()); });
}

void ModelOverview::showStatistic(int statistic) {
  if (statistic == m_statistic) return;
  m_statistic = statistic;
  m_shows->setCurrentIndex(statistic + 1);
  QSettings().setValue(QStringLiteral("overview/statistic"), statistic);
  buildImages();
  m_laidOut = false;
  update();
}

QString ModelOverview::mapText(int layer, int head) const {
  if (!m_snapshot || m_statistic < 0) return {};
  const std::optional<double> value = statisticOf(m_snapshot->statsOf(m_maskRow, layer, head), m_statistic);
  return value ? QString::number(*value, 'f', 2) : QStringLiteral("\u2013");
}

QPoint ModelOverview::origin() const {
  return QPoint(0, m_shows->geometry().bottom() + 4);
}

void ModelOverview::setModel(ScopeModel* model) {
  connect(model, &ScopeModel::snapshotChanged, this, [this, model](const SnapshotPointer& snapshot) {
    setContent(snapshot, model->selection().maskRow, model->display().colorMap);
  });
  connect(model, &ScopeModel::displayChanged, this, [this, model](const DisplayOptions& display) {
    setContent(model->snapshot(), model->selection().maskRow, display.colorMap);
  });
  connect(model, &ScopeModel::selectionChanged, this, [this, model](const QuerySelection& selection) {
    if (selection.maskRow != m_maskRow)
      setContent(model->snapshot(), selection.maskRow, model->display().colorMap);
    setCurrentHead(selection.head);
  });
  // The model makes the probe again whenever its key, the selected query or the snapshot change.
  connect(model, &ScopeModel::probeChanged, this, [this, model] { updateProbe(model->probe()); });
}

void ModelOverview::updateProbe(const std::optional<SnapshotProbe>& probe) {
  constexpr std::size_t kOutlined = 3;
  m_probed.clear();
  if (m_snapshot && probe)
    for (std::size_t i = 0; i < std::min(kOutlined, probe->hits.size()); ++i)
      m_probed.emplace_back(probe->hits[i].layer, probe->hits[i].head);
  update();
}

void ModelOverview::setContent(const SnapshotPointer& snapshot, int maskRow, ColorMapId colorMap) {
  m_snapshot = snapshot && snapshot->model ? snapshot : nullptr;
  m_colorMap = colorMap;
  m_layers = m_heads = 0;
  m_currentLayer = -1;
  if (m_snapshot) {
    m_maskRow = std::clamp(maskRow, 0, m_snapshot->maskCount() - 1);
    m_layers = m_snapshot->model->config.n_layer;
    m_heads = m_snapshot->model->config.n_head;
    m_currentLayer = m_snapshot->model->layer;
  }
  m_shows->setVisible(m_snapshot != nullptr);
  buildImages();
  m_laidOut = false;
  updateGeometry();
  update();
}

void ModelOverview::buildImages() {
  m_images.clear();
  if (!m_snapshot) return;
  if (m_statistic >= 0) {
    // One scale for the table: the statistic's range over every head of the mask row.
    m_low = std::numeric_limits<double>::infinity();
    m_high = -m_low;
    for (int layer = 0; layer < m_layers; ++layer)
      for (int head = 0; head < m_heads; ++head)
        if (const auto value = statisticOf(m_snapshot->statsOf(m_maskRow, layer, head), m_statistic)) {
          m_low = std::min(m_low, *value);
          m_high = std::max(m_high, *value);
        }
    if (!(m_low <= m_high)) m_low = m_high = 0.0;
    if (m_high - m_low < 1e-12) m_high = m_low + 1.0;  // one value: the lowest colour, not a division by 0
    return;
  }
  QCPColorGradient gradient = ColorMaps::sequential(m_colorMap);
  const QColor hidden = ColorMaps::maskedBackground();
  for (int layer = 0; layer < m_layers; ++layer)
    for (int head = 0; head < m_heads; ++head) {
      const OverviewMap& map = m_snapshot->overviewMap(m_maskRow, layer, head);
      QImage image(map.size, map.size, QImage::Format_RGB32);
      const QCPRange range(0.0, map.maximum > 0.0f ? map.maximum : 1.0);
      for (int row = 0; row < map.size; ++row) {
        auto* line = reinterpret_cast<QRgb*>(image.scanLine(row));
        for (int column = 0; column < map.size; ++column) {
          const float value = map.cells[static_cast<std::size_t>(row * map.size + column)];
          line[column] = std::isnan(value) ? hidden.rgb() : ColorMaps::colourOf(gradient, value, range);
        }
      }
      m_images.push_back(std::move(image));
    }
}

void ModelOverview::paintMap(QPainter& painter, int layer, int head) const {
  const QRect rect = mapRect(layer, head);
  const OverviewMap& map = m_snapshot->overviewMap(m_maskRow, layer, head);
  // The last cells may cover fewer tokens than the others: each cell gets block/n of the map's side, and
  // the image is cut at the map's edge.
  const double scale = static_cast<double>(map.size * map.block) / std::max(1, map.tokens);
  painter.save();
  painter.setClipRect(rect);
  painter.drawImage(QRectF(rect.topLeft(), QSizeF(rect.width() * scale, rect.height() * scale)),
                    m_images[static_cast<std::size_t>(layer * m_heads + head)]);
  painter.restore();
}

void ModelOverview::paintStatistic(QPainter& painter, int layer, int head) const {
  const QRect map = mapRect(layer, head);
  const std::optional<double> value = statisticOf(m_snapshot->statsOf(m_maskRow, layer, head), m_statistic);
  QCPColorGradient gradient = ColorMaps::sequential(m_colorMap);
  const QColor fill = value ? QColor::fromRgb(ColorMaps::colourOf(gradient, *value, QCPRange(m_low, m_high)))
                            : ColorMaps::maskedBackground();
  painter.fillRect(map, fill);
  const QString text = mapText(layer, head);
  QFont font = painter.font();
  font.setPixelSize(std::max(6, map.height() / 3));
  if (QFontMetrics(font).horizontalAdvance(text) > map.width() - 2) return;  // the tooltip has it
  painter.setFont(font);
  painter.setPen(ColorMaps::textOn(fill));
  painter.drawText(map, Qt::AlignCenter, text);
}

void ModelOverview::setCurrentHead(int head) {
  if (head == m_currentHead) return;
  m_currentHead = head;
  update();
}

const std::optional<FigureLayout>& ModelOverview::layout() const {
  if (m_laidOut) return m_layout;
  m_laidOut = true;
  m_layout.reset();
  if (m_layers == 0 || m_heads == 0) return m_layout;
  FigureSpec spec;
  spec.page = QSizeF(width(), height() - origin().y());
  const int pixels = std::max(8, QFontMetrics(font()).height() - 4);
  spec.style = FigureStyle{pixels, pixels, pixels, std::max(6, pixels - 3)};
  for (int head = 0; head < m_heads; ++head) spec.columnHeaders << headLabel(head);
  spec.shortColumnHeaders = spec.columnHeaders;
  for (int layer = 0; layer < m_layers; ++layer) spec.groups.push_back({QStringLiteral("L%1").arg(layer), 0});
  spec.tokenAxes = false;
  spec.wrapRows = 1;
  if (m_statistic >= 0) {
    const auto tick = [](double value) { return QString::number(value, 'g', 3); };
    spec.scales.push_back({statisticName(m_statistic),
                           statisticName(m_statistic),
                           {tick(m_high), tick((m_low + m_high) / 2.0), tick(m_low)}});
  }
  try {
    m_layout = FigureLayout::compute(spec);
  } catch (const Error&) {
    // Too small for the maps: paintEvent says so.
  }
  return m_layout;
}

QRect ModelOverview::mapRect(int layer, int head) const {
  if (!layout()) return {};
  return m_layout->mapRect(layer, head).toRect().translated(origin());
}

bool ModelOverview::mapAt(const QPoint& position, int* layer, int* head) const {
  for (int l = 0; l < m_layers; ++l)
    for (int h = 0; h < m_heads; ++h)
      if (mapRect(l, h).contains(position)) {
        *layer = l;
        *head = h;
        return true;
      }
  return false;
}

QColor ModelOverview::cellColor(int layer, int head, int row, int column) const {
  return QColor(m_images.at(static_cast<std::size_t>(layer * m_heads + head)).pixel(column, row));
}

QSize ModelOverview::sizeHint() const {
  const int selector = m_shows->sizeHint().height() + 4;
  if (m_layers == 0)
    return {kLabelWidth + 4 * (kPreferredCell + kGap), selector + kLabelHeight + 2 * kPreferredCell};
  return {kLabelWidth + m_heads * (kPreferredCell + kGap),
          selector + kLabelHeight + m_layers * (kPreferredCell + kGap)};
}

QSize ModelOverview::minimumSizeHint() const {
  return {kLabelWidth + std::max(1, m_heads) * (kMinimumCell + kGap),
          m_shows->sizeHint().height() + 4 + kLabelHeight + std::max(1, m_layers) * (kMinimumCell + kGap)};
}

void ModelOverview::resizeEvent(QResizeEvent* event) {
  m_laidOut = false;
  QWidget::resizeEvent(event);
}

void ModelOverview::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  if (!m_snapshot || !layout()) {
    painter.setPen(palette().color(QPalette::PlaceholderText));
    painter.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap,
                     m_snapshot ? tr("Too small to show every layer and head: make this panel larger.")
                                : tr("Open a GPT-2 model (File \u25b8 Open Model) "
                                     "to see every layer and head here."));
    return;
  }
  if (m_currentLayer >= 0) {
    // The grid's layer: a band behind its row.
    const QRect first = mapRect(m_currentLayer, 0), last = mapRect(m_currentLayer, m_heads - 1);
    painter.fillRect(QRect(0, first.top() - 2, last.right() + 4, first.height() + 4),
                     palette().color(QPalette::Highlight).lighter(160));
  }
  for (int layer = 0; layer < m_layers; ++layer)
    for (int head = 0; head < m_heads; ++head) {
      if (m_statistic >= 0)
        paintStatistic(painter, layer, head);
      else
        paintMap(painter, layer, head);
    }
  painter.save();
  painter.translate(origin());
  for (const QRectF& bar : m_layout->scaleBars())
    FigureRenderer::paintScaleStrip(&painter, bar, ColorMaps::sequential(m_colorMap));
  painter.setPen(palette().color(QPalette::WindowText));
  for (const FigureText& text : m_layout->texts()) FigureRenderer::paintText(&painter, text);
  painter.restore();
  // The probe's strongest heads: dashed, in the selection's colour.
  painter.setBrush(Qt::NoBrush);
  painter.setPen(QPen(palette().color(QPalette::Highlight), 2, Qt::DashLine));
  for (const auto& [layer, head] : m_probed) painter.drawRect(mapRect(layer, head).adjusted(-3, -3, 2, 2));
  if (m_currentLayer >= 0 && m_currentHead >= 0 && m_currentHead < m_heads) {
    // Darker than the layer's band behind it, so the head stands out from its row.
    painter.setPen(QPen(palette().color(QPalette::Highlight).darker(160), 3));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(mapRect(m_currentLayer, m_currentHead).adjusted(-2, -2, 1, 1));
  }
}

void ModelOverview::mousePressEvent(QMouseEvent* event) {
  int layer = -1, head = -1;
  if (event->button() == Qt::LeftButton && mapAt(event->position().toPoint(), &layer, &head))
    emit mapClicked(layer, head);
}

void ModelOverview::mouseMoveEvent(QMouseEvent* event) {
  int layer = -1, head = -1;
  if (m_snapshot && mapAt(event->position().toPoint(), &layer, &head)) {
    setCursor(Qt::PointingHandCursor);
    QString text = tr("layer %1 \u00b7 head %2 \u00b7 %3 \u2014 click to show it in the grid")
                       .arg(layer)
                       .arg(head)
                       .arg(m_snapshot->maskLabel(m_maskRow));
    if (m_statistic >= 0)
      text += QStringLiteral("\n%1: %2").arg(statisticName(m_statistic), mapText(layer, head));
    QToolTip::showText(event->globalPosition().toPoint() + QPoint(12, 8), text, this);
  } else {
    unsetCursor();
    QToolTip::hideText();
  }
}

}  // namespace attnscope::ui

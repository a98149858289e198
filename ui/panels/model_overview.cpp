#include "panels/model_overview.hpp"

#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <algorithm>
#include <cmath>

#include "plot/color_maps.hpp"

namespace attnscope::ui {
namespace {

constexpr int kLabelWidth = 30;
constexpr int kLabelHeight = 16;
constexpr int kGap = 3;
constexpr int kMinimumCell = 14;
constexpr int kPreferredCell = 30;

}  // namespace

ModelOverview::ModelOverview(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
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
}

void ModelOverview::setContent(const SnapshotPointer& snapshot, int maskRow, ColorMapId colorMap) {
  m_snapshot = snapshot && snapshot->model ? snapshot : nullptr;
  m_images.clear();
  m_layers = m_heads = 0;
  m_currentLayer = -1;
  if (m_snapshot) {
    m_maskRow = std::clamp(maskRow, 0, m_snapshot->maskCount() - 1);
    m_layers = m_snapshot->model->config.n_layer;
    m_heads = m_snapshot->model->config.n_head;
    m_currentLayer = m_snapshot->model->layer;
    QCPColorGradient gradient = ColorMaps::sequential(colorMap);
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
            line[column] = std::isnan(value) ? hidden.rgb() : gradient.color(value, range);
          }
        }
        m_images.push_back(std::move(image));
      }
  }
  updateGeometry();
  update();
}

void ModelOverview::setCurrentHead(int head) {
  if (head == m_currentHead) return;
  m_currentHead = head;
  update();
}

ModelOverview::Geometry ModelOverview::geometry() const {
  Geometry g;
  g.left = kLabelWidth;
  g.top = kLabelHeight;
  if (m_layers == 0 || m_heads == 0) return g;
  const int byWidth = (width() - kLabelWidth) / m_heads - kGap;
  const int byHeight = (height() - kLabelHeight) / m_layers - kGap;
  g.cell = std::max(kMinimumCell, std::min(byWidth, byHeight));
  return g;
}

QRect ModelOverview::mapRect(int layer, int head) const {
  const Geometry g = geometry();
  return QRect(g.left + head * (g.cell + kGap), g.top + layer * (g.cell + kGap), g.cell, g.cell);
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
  if (m_layers == 0) return {kLabelWidth + 4 * (kPreferredCell + kGap), kLabelHeight + 2 * kPreferredCell};
  return {kLabelWidth + m_heads * (kPreferredCell + kGap), kLabelHeight + m_layers * (kPreferredCell + kGap)};
}

QSize ModelOverview::minimumSizeHint() const {
  return {kLabelWidth + std::max(1, m_heads) * (kMinimumCell + kGap),
          kLabelHeight + std::max(1, m_layers) * (kMinimumCell + kGap)};
}

void ModelOverview::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  if (!m_snapshot) {
    painter.setPen(palette().color(QPalette::PlaceholderText));
    painter.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap,
                     tr("Open a GPT-2 model (File \u25b8 Open Model) "
                        "to see every layer and head here."));
    return;
  }
  QFont small = font();
  small.setPointSizeF(small.pointSizeF() * 0.8);
  painter.setFont(small);
  const Geometry g = geometry();
  painter.setPen(palette().color(QPalette::WindowText));
  for (int head = 0; head < m_heads; ++head)
    painter.drawText(QRect(mapRect(0, head).left(), 0, g.cell, kLabelHeight), Qt::AlignCenter,
                     headLabel(head));
  for (int layer = 0; layer < m_layers; ++layer) {
    const QRect first = mapRect(layer, 0);
    const QRect label(0, first.top(), kLabelWidth - 4, g.cell);
    if (layer == m_currentLayer) {
      // The grid's layer: a band behind its row.
      const QRect band(0, first.top() - 2, mapRect(layer, m_heads - 1).right() + 3, g.cell + 4);
      painter.fillRect(band, palette().color(QPalette::Highlight).lighter(160));
    }
    painter.drawText(label, Qt::AlignRight | Qt::AlignVCenter, QStringLiteral("L%1").arg(layer));
    for (int head = 0; head < m_heads; ++head)
      painter.drawImage(mapRect(layer, head), m_images[static_cast<std::size_t>(layer * m_heads + head)]);
  }
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
    QToolTip::showText(event->globalPosition().toPoint() + QPoint(12, 8),
                       tr("layer %1 \u00b7 head %2 \u00b7 %3 \u2014 click to show it in the grid")
                           .arg(layer)
                           .arg(head)
                           .arg(m_snapshot->maskLabel(m_maskRow)),
                       this);
  } else {
    unsetCursor();
    QToolTip::hideText();
  }
}

}  // namespace attnscope::ui

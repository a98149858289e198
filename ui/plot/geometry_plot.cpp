#include "plot/geometry_plot.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "text.hpp"

namespace attnscope::ui {
namespace {

const QColor kQueryColor(0x1f, 0x77, 0xb4);
const QColor kKeyColor(0xd9, 0x5f, 0x02);
const QColor kLineColor(0x1b, 0x3a, 0x5c);
constexpr double kMargin = 0.12;     // of the points' extent, each side: room for the markers
constexpr double kLabelRoom = 0.15;  // more on the right, where the labels run
constexpr int kLabelCharacters = 14;
constexpr double kSharedLabelDistance = 0.015;  // of the larger axis range
// Above this many tokens the points are drawn without antialiasing: a long text's 2n discs and triangles took
// most of a replot's time.
constexpr int kAntialiasedTokens = 2000;
// The selection's lines, and its ring and labels, on layers of their own that a new selection redraws alone,
// without the points.
const QString kLinesLayer = QStringLiteral("selectionLines");
const QString kMarksLayer = QStringLiteral("selectionMarks");

QCPCurve* pointCurve(QCustomPlot* plot, const QCPScatterStyle& style, const QString& name) {
  auto* curve = new QCPCurve(plot->xAxis, plot->yAxis);
  curve->setLineStyle(QCPCurve::lsNone);
  curve->setScatterStyle(style);
  curve->setName(name);
  return curve;
}

void setCurve(QCPCurve* curve, const Matrix& points) {
  const int n = static_cast<int>(points.rows());
  QVector<double> t(n), x(n), y(n);
  for (int i = 0; i < n; ++i) {
    t[i] = i;
    x[i] = points(i, 0);
    y[i] = points(i, 1);
  }
  curve->setData(t, x, y, true);
}

}  // namespace

GeometryPlot::GeometryPlot(QWidget* parent) : QCustomPlot(parent) {
  setBackground(QBrush(Qt::white));
  setPlottingHint(QCP::phImmediateRefresh, false);  // painted in Qt's paint event, as HeatmapPlot says why
  for (QCPAxis* axis : {xAxis, yAxis}) {
    axis->grid()->setPen(QPen(QColor(0xe4, 0xe4, 0xe4)));
    axis->grid()->setZeroLinePen(QPen(QColor(0xb0, 0xb0, 0xb0)));
  }
  m_queries =
      pointCurve(this, QCPScatterStyle(QCPScatterStyle::ssDisc, kQueryColor, kQueryColor, 7), tr("query"));
  m_keys = pointCurve(
      this, QCPScatterStyle(QCPScatterStyle::ssTriangle, QPen(kKeyColor, 1.6), Qt::NoBrush, 9), tr("key"));
  m_selected =
      pointCurve(this, QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(kLineColor, 2), Qt::NoBrush, 15),
                 tr("selected query"));
  m_selected->removeFromLegend();
  addLayer(kLinesLayer, layer(QStringLiteral("grid")), limAbove);
  addLayer(kMarksLayer, layer(QStringLiteral("main")), limAbove);
  for (const QString& name : {kLinesLayer, kMarksLayer}) layer(name)->setMode(QCPLayer::lmBuffered);
  m_selected->setLayer(kMarksLayer);

  // The legend in a row of its own above the points, which it would otherwise cover.
  axisRect()->insetLayout()->take(legend);
  plotLayout()->insertRow(0);
  plotLayout()->addElement(0, 0, legend);
  plotLayout()->setRowStretchFactor(0, 0.001);
  legend->setFillOrder(QCPLegend::foColumnsFirst);
  legend->setBorderPen(Qt::NoPen);
  legend->setMargins(QMargins(4, 2, 4, 0));
  legend->setVisible(true);
  setMinimumSize(200, 200);
}

void GeometryPlot::setPoints(GeometryPoints points) {
  m_points = std::move(points);
  setCurve(m_queries, m_points.queries);
  setCurve(m_keys, m_points.keys);
  xAxis->setLabel(m_points.xLabel);
  yAxis->setLabel(m_points.yLabel);
  setNotAntialiasedElements(m_points.queries.rows() > kAntialiasedTokens ? QCP::aeScatters : QCP::aeNone);
  fitRanges(rect());
  drawHighlight();
  replot(rpQueuedReplot);
}

void GeometryPlot::setHighlight(GeometryHighlight highlight) {
  m_highlight = std::move(highlight);
  drawHighlight();
  layer(kLinesLayer)->replot();
  layer(kMarksLayer)->replot();
}

void GeometryPlot::clearContent() {
  m_points = {};
  m_highlight = {};
  m_queries->data()->clear();
  m_keys->data()->clear();
  drawHighlight();
  replot(rpQueuedReplot);
}

void GeometryPlot::drawHighlight() {
  m_selected->data()->clear();
  const int n = static_cast<int>(m_points.queries.rows());
  const int query = m_highlight.query;
  std::size_t lines = 0, labels = 0;
  if (query >= 0 && query < n) {
    m_selected->addData(0, m_points.queries(query, 0), m_points.queries(query, 1));
    float heaviest = 0.0f;
    for (const auto& line : m_highlight.lines) heaviest = std::max(heaviest, line.weight);
    // Relative to the heaviest line: a long text's weights are all small, and would all draw faint.
    for (const auto& line : m_highlight.lines) {
      const double share = heaviest > 0.0f ? line.weight / heaviest : 0.0;
      QColor color = kLineColor;
      color.setAlphaF(0.15 + 0.85 * share);
      QCPItemLine* item = pooled(m_lineItems, lines++, kLinesLayer);
      item->setPen(QPen(color, 0.5 + 4.5 * share, Qt::SolidLine, Qt::RoundCap));
      item->start->setCoords(m_points.queries(query, 0), m_points.queries(query, 1));
      item->end->setCoords(m_points.keys(line.key, 0), m_points.keys(line.key, 1));
    }
  }
  // Points of one kind that (nearly) coincide share one label, "journey, starts", rather than overprint.
  struct Label {
    bool key;
    QPointF at;
    QStringList names;
  };
  std::vector<Label> merged;
  const double near = kSharedLabelDistance * std::max(xAxis->range().size(), yAxis->range().size());
  for (const bool key : {false, true})
    for (const int token : m_highlight.labelled) {
      if (token < 0 || token >= n) continue;
      const Matrix& points = key ? m_points.keys : m_points.queries;
      const QPointF at(points(token, 0), points(token, 1));
      const QString name = displayToken(m_points.tokens.value(token), kLabelCharacters);
      const auto same = std::find_if(merged.begin(), merged.end(), [&](const Label& label) {
        return label.key == key && std::abs(label.at.x() - at.x()) <= near &&
               std::abs(label.at.y() - at.y()) <= near;
      });
      if (same == merged.end())
        merged.push_back({key, at, {name}});
      else if (!same->names.contains(name))
        same->names << name;
    }
  QFont font = this->font();
  font.setPointSizeF(font.pointSizeF() * 0.85);
  for (const Label& merge : merged) {
    QCPItemText* label = pooled(m_labelItems, labels++, kMarksLayer);
    label->position->setCoords(merge.at);
    label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    label->setPadding(QMargins(5, 0, 0, 3));
    label->setFont(font);
    label->setColor((merge.key ? kKeyColor : kQueryColor).darker(130));
    label->setText(merge.names.join(QStringLiteral(", ")));
    label->setClipToAxisRect(true);
  }
  m_lineCount = lines;
  m_labelCount = labels;
  for (; lines < m_lineItems.size(); ++lines) m_lineItems[lines]->setVisible(false);
  for (; labels < m_labelItems.size(); ++labels) m_labelItems[labels]->setVisible(false);
}

template <typename Item>
Item* GeometryPlot::pooled(std::vector<Item*>& pool, std::size_t index, const QString& layerName) {
  if (index == pool.size()) {
    pool.push_back(new Item(this));
    pool.back()->setLayer(layerName);
  }
  pool[index]->setVisible(true);
  return pool[index];
}

void GeometryPlot::fitRanges(const QRect& viewport) {
  double left = std::numeric_limits<double>::infinity(), right = -left, bottom = left, top = -left;
  for (const Matrix* points : {&m_points.queries, &m_points.keys})
    for (Eigen::Index i = 0; i < points->rows(); ++i) {
      left = std::min(left, double((*points)(i, 0)));
      right = std::max(right, double((*points)(i, 0)));
      bottom = std::min(bottom, double((*points)(i, 1)));
      top = std::max(top, double((*points)(i, 1)));
    }
  if (!(left <= right)) left = bottom = -1.0, right = top = 1.0;
  // A cloud flat in one direction (or a single point) still gets a square of the other's size.
  const double extent = std::max({right - left, top - bottom, 1e-6});
  const double spread = std::max(right - left, extent * 0.25);
  const double width = spread * (1 + 2 * kMargin + kLabelRoom);
  const double height = std::max(top - bottom, extent * 0.25) * (1 + 2 * kMargin);
  const QPointF centre((left + right + spread * kLabelRoom) / 2, (bottom + top) / 2);
  setViewport(viewport);
  // Twice: the tick labels of the first ranges can change the margins, and so the axis rect.
  for (int pass = 0; pass < 2; ++pass) {
    updateLayout();
    const QRect area = axisRect()->rect();
    const double pixels = std::min(std::max(1, area.width()) / width, std::max(1, area.height()) / height);
    const double halfWidth = std::max(1, area.width()) / pixels / 2;
    const double halfHeight = std::max(1, area.height()) / pixels / 2;
    xAxis->setRange(centre.x() - halfWidth, centre.x() + halfWidth);
    yAxis->setRange(centre.y() - halfHeight, centre.y() + halfHeight);
  }
}

void GeometryPlot::resizeEvent(QResizeEvent* event) {
  QCustomPlot::resizeEvent(event);
  fitRanges(rect());
  replot(rpQueuedReplot);
}

QStringList GeometryPlot::labelTexts() const {
  QStringList texts;
  for (std::size_t i = 0; i < m_labelCount; ++i) texts << m_labelItems[i]->text();
  return texts;
}

QPointF GeometryPlot::pixelOf(GeometryPick point) const {
  const Matrix& points = point.key ? m_points.keys : m_points.queries;
  return {xAxis->coordToPixel(points(point.index, 0)), yAxis->coordToPixel(points(point.index, 1))};
}

std::optional<GeometryPick> GeometryPlot::pointAt(QPointF position) const {
  std::optional<GeometryPick> nearest;
  double best = kPickRadius * kPickRadius;
  for (const bool key : {true, false}) {
    const Matrix& points = key ? m_points.keys : m_points.queries;
    for (int i = 0; i < points.rows(); ++i) {
      const QPointF offset = pixelOf({key, i}) - position;
      const double distance = QPointF::dotProduct(offset, offset);
      if (distance < best || (distance <= best && !nearest)) {
        best = distance;
        nearest = GeometryPick{key, i};
      }
    }
  }
  return nearest;
}

QPicture GeometryPlot::record(QSize size, const QString& title) const {
  GeometryPlot copy;
  copy.setFont(font());
  copy.plotLayout()->insertRow(0);
  copy.plotLayout()->setRowStretchFactor(0, 0.001);
  QFont bold = font();
  bold.setBold(true);
  copy.plotLayout()->addElement(0, 0, new QCPTextElement(&copy, title, bold));
  copy.setPoints(m_points);
  copy.setHighlight(m_highlight);
  copy.fitRanges(QRect(QPoint(0, 0), size));
  QPicture picture;
  QCPPainter painter(&picture);
  copy.toPainter(&painter, size.width(), size.height());
  painter.end();
  return picture;
}

}  // namespace attnscope::ui

#include "plot/figure_view.hpp"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <algorithm>
#include <cmath>

#include "attnscope/error.hpp"
#include "plot/figure_renderer.hpp"
#include "plot/map_overlay.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

constexpr int kResizeDelayMs = 40;  // a drag's resize events: one figure at the end
constexpr int kFrame = 2;           // the focus frame, inside the widget; the figure sits within it

}  // namespace

struct FigureView::Figure {
  quint64 generation = 0;
  QImage image;  // at the widget's device pixel ratio
  std::optional<FigureLayout> layout;
  std::vector<MapKey> keys;  // group-major
  int groups = 0, heads = 0, tokens = 0;
  QString problem;
};

FigureView::FigureView(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);  // Tab reaches the maps; ↑ ↓ then move the query
  setAttribute(Qt::WA_OpaquePaintEvent);
  setMinimumSize(200, 150);
  m_pool.setMaxThreadCount(1);
  m_rebuildTimer.setSingleShot(true);
  connect(&m_rebuildTimer, &QTimer::timeout, this, &FigureView::rebuild);
}

FigureView::~FigureView() {
  m_job.cancel();
  m_pool.waitForDone();
}

void FigureView::setContent(SnapshotPointer snapshot, const DisplayOptions& options) {
  if (snapshot == m_snapshot && options == m_options && m_figure) return;
  m_snapshot = std::move(snapshot);
  m_options = options;
  invalidate();
  // A new text or drawing shows at once when it is cheap; a long one keeps the previous image meanwhile.
  if (isVisible() && m_snapshot && m_snapshot->tokenCount() <= kLargestPaintedHere) {
    m_rebuildTimer.stop();
    rebuild();
  }
}

void FigureView::invalidate() {
  ++m_generation;
  m_job.cancel();
  m_building = false;
  if (isVisible()) m_rebuildTimer.start(kResizeDelayMs);
}

bool FigureView::isCurrent() const {
  return m_figure && m_figure->generation == m_generation;
}

QString FigureView::problem() const {
  return m_figure ? m_figure->problem : QString();
}

std::shared_ptr<const FigureView::Figure> FigureView::build(const SnapshotPointer& snapshot,
                                                            const DisplayOptions& options, QSize size,
                                                            double pixelRatio, quint64 generation) {
  auto figure = std::make_shared<Figure>();
  figure->generation = generation;
  if (!snapshot || snapshot->tokenCount() == 0 || size.isEmpty()) return figure;
  std::optional<FigureRenderer> made;
  try {
    made.emplace(snapshot, options);
  } catch (const Error&) {
    return figure;  // no quantity shown: the grid says so in its hint
  }
  FigureRenderer& renderer = *made;
  try {
    QImage image((QSizeF(size) * pixelRatio).toSize(), QImage::Format_ARGB32_Premultiplied);
    image.setDevicePixelRatio(pixelRatio);
    {
      QPainter painter(&image);
      // The window's own text sizes (those of the scrolling maps), on a page of the view's pixels.
      figure->layout = renderer.paint(&painter, QSizeF(size), FigureStyle{}, pixelRatio);
    }
    figure->image = std::move(image);
    figure->groups = renderer.groupCount();
    figure->heads = renderer.headCount();
    figure->tokens = snapshot->tokenCount();
    for (int group = 0; group < figure->groups; ++group)
      for (int head = 0; head < figure->heads; ++head) figure->keys.push_back(renderer.mapKey(group, head));
  } catch (const Error& error) {
    figure->layout.reset();
    figure->problem = tr("Too little room to fit every map here (%1).\nEnlarge the window, or press Ctrl+0 "
                         "for maps of a readable size that scroll.")
                          .arg(toQString(error.what()));
  }
  return figure;
}

void FigureView::rebuild() {
  if (!isVisible()) return;  // showEvent builds it
  const QSize page = size() - QSize(2 * kFrame, 2 * kFrame);
  const quint64 generation = m_generation;
  if (!m_snapshot || m_snapshot->tokenCount() <= kLargestPaintedHere) {
    present(build(m_snapshot, m_options, page, devicePixelRatioF(), generation));
    return;
  }
  m_building = true;
  m_job.start(
      &m_pool, this,
      [snapshot = m_snapshot, options = m_options, page, ratio = devicePixelRatioF(),
       generation](const CancelToken&) { return build(snapshot, options, page, ratio, generation); },
      [this](std::shared_ptr<const Figure> figure) {
        m_building = false;
        present(std::move(figure));
      });
}

void FigureView::present(std::shared_ptr<const Figure> figure) {
  m_figure = std::move(figure);
  update();
  emit figureShown();
}

void FigureView::setHover(int query, int key) {
  if (query == m_hoveredQuery && key == m_hoveredKey) return;
  m_hoveredQuery = query;
  m_hoveredKey = key;
  update();
}

void FigureView::setSelection(int query, std::optional<MapKey> explained) {
  m_selectedQuery = query;
  m_explained = explained;
  update();
}

int FigureView::groupCount() const {
  return m_figure && m_figure->layout ? m_figure->groups : 0;
}

int FigureView::headCount() const {
  return m_figure && m_figure->layout ? m_figure->heads : 0;
}

MapKey FigureView::mapKey(int group, int head) const {
  return m_figure->keys.at(static_cast<std::size_t>(group * m_figure->heads + head));
}

const FigureLayout* FigureView::layout() const {
  return m_figure && m_figure->layout ? &*m_figure->layout : nullptr;
}

QRectF FigureView::mapRect(int group, int head) const {
  return m_figure->layout->mapRect(group, head).translated(kFrame, kFrame);
}

bool FigureView::cellAt(const QPointF& position, MapKey* map, int* query, int* key) const {
  for (int group = 0; group < groupCount(); ++group)
    for (int head = 0; head < headCount(); ++head) {
      const QRectF rect = mapRect(group, head);
      if (!rect.contains(position)) continue;
      const int n = m_figure->tokens;
      const auto index = [n](double offset, double extent) {
        return std::clamp(static_cast<int>(std::floor(offset / extent * n)), 0, n - 1);
      };
      *map = mapKey(group, head);
      *key = index(position.x() - rect.left(), rect.width());
      *query = index(position.y() - rect.top(), rect.height());
      return true;
    }
  return false;
}

QPointF FigureView::cellCentre(int group, int head, int query, int key) const {
  const QRectF rect = mapRect(group, head);
  const double n = m_figure->tokens;
  return QPointF(rect.left() + (key + 0.5) * rect.width() / n,
                 rect.top() + (query + 0.5) * rect.height() / n);
}

void FigureView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.fillRect(rect(), Qt::white);
  if (m_figure && !m_figure->problem.isEmpty()) {
    painter.setPen(palette().color(QPalette::PlaceholderText));
    painter.drawText(rect().adjusted(24, 24, -24, -24), Qt::AlignCenter | Qt::TextWordWrap,
                     m_figure->problem);
  } else if (m_figure && !m_figure->image.isNull()) {
    painter.drawImage(QPointF(kFrame, kFrame), m_figure->image);
    paintOverlay(&painter);
  }
  if (hasFocus()) {
    // Where ↑ ↓ go, as the scroll area around the scrolling maps shows it.
    painter.setPen(QPen(palette().color(QPalette::Highlight), kFrame));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(QRectF(rect()).adjusted(kFrame / 2.0, kFrame / 2.0, -kFrame / 2.0, -kFrame / 2.0));
  }
}

void FigureView::paintOverlay(QPainter* painter) const {
  // The marks MapOverlay draws over the scrolling maps, on every map of the figure.
  const int n = m_figure->tokens;
  if (n == 0) return;
  const bool hoveredQuery = m_hoveredQuery >= 0 && m_hoveredQuery < n;
  const bool hoveredKey = m_hoveredKey >= 0 && m_hoveredKey < n;
  for (int group = 0; group < groupCount(); ++group)
    for (int head = 0; head < headCount(); ++head) {
      const QRectF map = mapRect(group, head);
      const double cell = map.width() / n;
      const auto row = [&](int query) {
        return QRectF(map.left(), map.top() + query * cell, map.width(), cell);
      };
      OverlayMarks marks;
      if (hoveredQuery) marks.hoveredRow = row(m_hoveredQuery);
      if (hoveredKey)
        marks.hoveredColumn = QRectF(map.left() + m_hoveredKey * cell, map.top(), cell, map.height());
      if (hoveredQuery && hoveredKey)
        marks.hoveredCell =
            QRectF(map.left() + m_hoveredKey * cell, map.top() + m_hoveredQuery * cell, cell, cell);
      if (m_selectedQuery >= 0 && m_selectedQuery < n) {
        const MapKey key = mapKey(group, head);
        marks.selectedRow = row(m_selectedQuery).adjusted(1, 0, -1, 0);
        marks.explained = m_explained && m_explained->maskRow == key.maskRow && m_explained->head == key.head;
      }
      MapOverlay::paintMarks(painter, marks);
    }
}

void FigureView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  invalidate();
}

void FigureView::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  if (!isCurrent() && !m_building) {
    m_rebuildTimer.stop();
    rebuild();
  }
}

void FigureView::mouseMoveEvent(QMouseEvent* event) {
  MapKey map;
  int query = -1, key = -1;
  if (cellAt(event->position(), &map, &query, &key))
    emit cellHovered(map, query, key, event->globalPosition().toPoint());
  else
    emit cellHovered(MapKey{}, -1, -1, event->globalPosition().toPoint());
}

void FigureView::mousePressEvent(QMouseEvent* event) {
  setFocus(Qt::MouseFocusReason);
  if (event->button() != Qt::LeftButton) return;
  MapKey map;
  int query = -1, key = -1;
  if (!cellAt(event->position(), &map, &query, &key)) return;
  emit cellClicked(map, query);
  if (event->modifiers() & Qt::AltModifier) emit keyProbed(key);
}

void FigureView::leaveEvent(QEvent* event) {
  QWidget::leaveEvent(event);
  emit cellHovered(MapKey{}, -1, -1, QPoint());
}

void FigureView::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Up || event->key() == Qt::Key_Down) {
    emit queryStepped(event->key() == Qt::Key_Up ? -1 : 1);
    return;
  }
  QWidget::keyPressEvent(event);
}

void FigureView::focusInEvent(QFocusEvent* event) {
  QWidget::focusInEvent(event);
  update();
}

void FigureView::focusOutEvent(QFocusEvent* event) {
  QWidget::focusOutEvent(event);
  update();
}

}  // namespace attnscope::ui

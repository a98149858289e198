#include "panels/busy_indicator.hpp"

#include <QPainter>
#include <QPalette>
#include <algorithm>

namespace attnscope::ui {
namespace {

constexpr int kFrameMs = 80;
constexpr int kFrames = 24;  // one sweep of the track

}  // namespace

BusyIndicator::BusyIndicator(QWidget* parent) : QWidget(parent) {
  // Every pixel is painted below: the status bar behind is not repainted with each frame.
  setAttribute(Qt::WA_OpaquePaintEvent);
  setToolTip(tr("Computing"));
  m_frames.setInterval(kFrameMs);
  connect(&m_frames, &QTimer::timeout, this, [this] {
    m_frame = (m_frame + 1) % kFrames;
    update();
  });
}

QSize BusyIndicator::sizeHint() const {
  return QSize(120, 14);
}

void BusyIndicator::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  const QPalette& colors = palette();
  painter.fillRect(rect(), colors.window());
  const QRect track = rect().adjusted(1, 3, -1, -3);
  painter.setPen(colors.mid().color());
  painter.setBrush(colors.base());
  painter.drawRect(track.adjusted(0, 0, -1, -1));
  // A block a quarter of the track wide, sliding in from the left and out at the right.
  const int block = std::max(4, track.width() / 4);
  const int travel = track.width() + block;
  const int left = track.left() - block + travel * m_frame / kFrames;
  painter.fillRect(
      QRect(left, track.top() + 1, block, track.height() - 2).intersected(track.adjusted(1, 1, -1, -1)),
      colors.highlight());
}

void BusyIndicator::showEvent(QShowEvent* event) {
  m_frame = 0;
  m_frames.start();
  QWidget::showEvent(event);
}

void BusyIndicator::hideEvent(QHideEvent* event) {
  m_frames.stop();
  QWidget::hideEvent(event);
}

}  // namespace attnscope::ui

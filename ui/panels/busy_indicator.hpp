#pragma once
// The status bar's sign that a computation is running: a block sliding along a small track. Drawn opaque and
// a dozen times a second, where an indeterminate QProgressBar (Fusion) repainted itself and the status bar's
// message behind it at 60 frames a second: a fifth of the GUI thread's time during a long text's edits.

#include <QTimer>
#include <QWidget>

namespace attnscope::ui {

class BusyIndicator : public QWidget {
  Q_OBJECT

 public:
  explicit BusyIndicator(QWidget* parent = nullptr);
  QSize sizeHint() const override;
  bool isAnimating() const { return m_frames.isActive(); }
  int frame() const { return m_frame; }

 protected:
  void paintEvent(QPaintEvent* event) override;
  void showEvent(QShowEvent* event) override;
  void hideEvent(QHideEvent* event) override;

 private:
  QTimer m_frames;
  int m_frame = 0;
};

}  // namespace attnscope::ui

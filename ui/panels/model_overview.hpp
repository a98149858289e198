#pragma once
// Every layer × head of a GPT-2 model as small maps (the weights of one mask row, each map scaled to its own
// largest weight), one row per layer. The layer on screen in the grid is marked, and the head the selected
// query was picked in is outlined; clicking a map asks for that layer and head.

#include <QImage>
#include <QWidget>
#include <vector>

#include "compute/attention_snapshot.hpp"
#include "state/scope_model.hpp"

namespace attnscope::ui {

class ModelOverview : public QWidget {
  Q_OBJECT

 public:
  explicit ModelOverview(QWidget* parent = nullptr);

  // Shows the model's snapshot, in the mask row and head of its selection.
  void setModel(ScopeModel* model);
  // Shows the maps of `maskRow` of a model snapshot (nothing for a book snapshot or null).
  void setContent(const SnapshotPointer& snapshot, int maskRow, ColorMapId colorMap);
  void setCurrentHead(int head);  // outlined in the grid's layer; -1 for none

  int layerCount() const { return m_layers; }
  int headCount() const { return m_heads; }
  int maskRow() const { return m_maskRow; }
  int currentLayer() const { return m_currentLayer; }
  int currentHead() const { return m_currentHead; }
  // The label over a head's column: its index, counted from 0 as everywhere else ("0" … "11").
  static QString headLabel(int head) { return QString::number(head); }
  // The map's rectangle in widget coordinates, and the map under a position (false outside every map).
  QRect mapRect(int layer, int head) const;
  bool mapAt(const QPoint& position, int* layer, int* head) const;
  // The colour the map's cell (row, column of its reduced cells) is painted with (tests).
  QColor cellColor(int layer, int head, int row, int column) const;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 signals:
  void mapClicked(int layer, int head);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;

 private:
  struct Geometry {
    int left = 0, top = 0, cell = 0;
  };
  Geometry geometry() const;

  SnapshotPointer m_snapshot;
  int m_maskRow = 0;
  int m_layers = 0;
  int m_heads = 0;
  int m_currentLayer = -1;
  int m_currentHead = -1;
  std::vector<QImage> m_images;  // layer · n_head + head
};

}  // namespace attnscope::ui

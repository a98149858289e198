#pragma once
// Every layer × head of a GPT-2 model as small maps (the weights of one mask row, each map scaled to its own
// largest weight), one row per layer, laid out by the grid's own FigureLayout (a group per layer, a column
// per head, no token axes). The layer on screen in the grid is marked, and the head the selected query was
// picked in is outlined; clicking a map asks for that layer and head. Instead of the maps it can show one of
// the heads' statistics (head_stats.hpp) as a layers × heads table of numbers on a colour scale, to spot the
// heads that stand out: the choice is remembered.

#include <QImage>
#include <QWidget>
#include <optional>
#include <vector>

#include "compute/attention_snapshot.hpp"
#include "plot/figure_layout.hpp"
#include "state/scope_model.hpp"

class QComboBox;

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
  // -1: the maps; else the statistic (HeadStatsModel's order: statisticOf) each map is coloured and labelled
  // by.
  int shownStatistic() const { return m_statistic; }
  void showStatistic(int statistic);
  QComboBox* shownSelector() const { return m_shows; }
  // The text drawn on a map while a statistic is shown ("0.41", "–" where it has none); empty otherwise.
  QString mapText(int layer, int head) const;
  // The heads the probe ranks highest (outlined, strongest first), as (layer, head).
  const std::vector<std::pair<int, int>>& probedHeads() const { return m_probed; }
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
  void resizeEvent(QResizeEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;

 private:
  // The layout for the widget's size; empty when there is nothing to show or no room for the maps.
  const std::optional<FigureLayout>& layout() const;
  QPoint origin() const;  // of the maps' page, under the selector
  void buildImages();
  void paintMap(QPainter& painter, int layer, int head) const;
  void paintStatistic(QPainter& painter, int layer, int head) const;
  void updateProbe(const std::optional<SnapshotProbe>& probe);

  SnapshotPointer m_snapshot;
  int m_maskRow = 0;
  int m_layers = 0;
  int m_heads = 0;
  int m_currentLayer = -1;
  int m_currentHead = -1;
  ColorMapId m_colorMap = ColorMapId::viridis;
  QComboBox* m_shows;
  int m_statistic = -1;
  std::vector<QImage> m_images;  // layer · n_head + head
  std::vector<std::pair<int, int>> m_probed;
  double m_low = 0.0, m_high = 1.0;  // the statistic's range over the shown maps
  mutable std::optional<FigureLayout> m_layout;
  mutable bool m_laidOut = false;
};

}  // namespace attnscope::ui

#pragma once
// File ▸ Export Image: the whole grid, one map or each map to a folder; PNG, SVG or PDF; at a figure preset
// (slide, paper column, paper page: a physical size) or a chosen pixel size (and, for PNG, a scale). The main
// window performs the export the dialog describes. The format, figure preset, size and scale of the last
// export are remembered in QSettings; a failed export reopens the dialog as it was, with the reason in it.

#include <QDialog>
#include <optional>

#include "export/exporter.hpp"
#include "plot/heatmap_plot.hpp"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace attnscope::ui {

class ExportDialog : public QDialog {
  Q_OBJECT

 public:
  enum class Target { grid, map, folder };

  // Lists the maps `grid` shows; `windowSize` is the grid's size on screen; `directory` where to save.
  ExportDialog(const HeatmapPlot& grid, QSize windowSize, const QString& directory,
               QWidget* parent = nullptr);

  Target target() const;
  std::optional<MapKey> map() const;  // for Target::map
  ImageRequest request() const;
  QString path() const;  // a file, or the folder for Target::folder

  void setTarget(Target target, int mapIndex = 0);
  void setFormat(ImageFormat format);
  void setPixelSize(QSize size);
  void setPath(const QString& path);
  int targetIndex() const;  // the Export box's row, to reopen the dialog as it was
  void setTargetIndex(int index);
  // Shows why the export described could not be written (empty: hides it).
  void setProblem(const QString& problem);
  QString problem() const;

  // Refuses (and says why, the dialog staying open) a path it can tell is wrong: no name, a missing folder,
  // a name whose suffix is not the format's; else remembers the choices and closes.
  void accept() override;

 private:
  void onTargetChanged();
  void onFormatChanged();
  void browse();
  void useNaturalSize();
  void restoreChoices();
  void saveChoices() const;

  const HeatmapPlot& m_grid;
  QSize m_windowSize;
  QComboBox* m_target;
  QComboBox* m_format;
  QComboBox* m_preset;  // custom size (-1) or a FigurePreset
  QSpinBox* m_width;
  QSpinBox* m_height;
  QDoubleSpinBox* m_scale;
  QLabel* m_pixels;
  QLineEdit* m_path;
  QLabel* m_problem;
};

}  // namespace attnscope::ui

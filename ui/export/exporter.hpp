#pragma once
// Writes what the grid shows: images (PNG, SVG, PDF) rendered at the requested size by a plot of their own,
// independent of the window, and the matrices as CSV or JSON (the CLI's schema). Every file is written to a
// temporary beside its target and renamed into place, so a failure never leaves a half-written file.
// An image is a figure laid out by FigureLayout and painted by FigureRenderer, in two steps: `record` draws
// it into paint commands on the GUI thread, `encode` replays them into pixels, SVG or PDF on any thread.

#include <QByteArray>
#include <QImage>
#include <QPicture>
#include <QSize>
#include <QString>
#include <QStringList>
#include <optional>
#include <utility>
#include <vector>

#include "attnscope/backend.hpp"
#include "compute/attention_snapshot.hpp"
#include "plot/figure_layout.hpp"
#include "plot/heatmap_plot.hpp"

namespace attnscope::ui {

enum class ImageFormat { png, svg, pdf };

struct ImageRequest {
  ImageRequest() = default;
  ImageRequest(ImageFormat format, QSize size, double scale = 1.0, FigureStyle style = {},
               bool inPoints = false)
      : format(format), size(size), scale(scale), style(style), inPoints(inPoints) {}

  ImageFormat format = ImageFormat::png;
  QSize size;          // logical pixels (PDF: points); empty = the content's natural size
  double scale = 1.0;  // PNG only: output pixels per logical pixel (fonts and lines scale with it)
  FigureStyle style;   // text sizes in logical pixels (points for the physical presets)
  // The size is in points (a physical preset): an SVG then declares its size in points, like the PDF.
  bool inPoints = false;
};

// An image drawn by a plot and kept as paint commands, with the request it was laid out for.
struct RecordedImage {
  ImageRequest request;  // its size filled in
  QPicture picture;
};

class Exporter {
 public:
  // png, svg or pdf from the file's suffix; throws attnscope::Error for anything else.
  static ImageFormat formatFor(const QString& path);
  static QString suffix(ImageFormat format);

  // The whole grid, or one map with `only`. Throws attnscope::Error with the reason when it cannot write.
  static void exportImage(const SnapshotPointer& snapshot, const DisplayOptions& options,
                          std::optional<MapKey> only, const ImageRequest& request, const QString& path);
  // One file per map of the grid into `folder`, named like head0-causal-weights.png. Returns the paths.
  static QStringList exportEachMap(const SnapshotPointer& snapshot, const DisplayOptions& options,
                                   const ImageRequest& request, const QString& folder);

  // GUI thread. Throws attnscope::Error when there is nothing to export or the size is out of range.
  static RecordedImage record(const SnapshotPointer& snapshot, const DisplayOptions& options,
                              std::optional<MapKey> only, const ImageRequest& request);
  // Any thread. Throws attnscope::Cancelled once `cancel` is set (checked while the PNG is encoded too).
  static QByteArray encode(const RecordedImage& image, const CancelToken& cancel = {});
  // Any thread: the recorded image in pixels (the clipboard's copy).
  static QImage toRaster(const RecordedImage& image);
  // Each map of the grid and the file exportEachMap writes it to; throws Error when `folder` is no folder.
  static std::vector<std::pair<MapKey, QString>> eachMapFiles(const SnapshotPointer& snapshot,
                                                              const DisplayOptions& options,
                                                              ImageFormat format, const QString& folder);

  static QByteArray renderImage(const SnapshotPointer& snapshot, const DisplayOptions& options,
                                std::optional<MapKey> only, const ImageRequest& request);
  static QImage renderRaster(const SnapshotPointer& snapshot, const DisplayOptions& options,
                             std::optional<MapKey> only, QSize size, double scale);
  static QSize naturalSize(const SnapshotPointer& snapshot, const DisplayOptions& options,
                           std::optional<MapKey> only = {});

  // The CLI's JSON for each mask row, as an array in grid order; CSV: the CLI's columns after a mask column.
  // Throw attnscope::Error when the snapshot let go of its matrices (a long text; see PreparedMaps).
  static QByteArray toJson(const AttentionSnapshot& snapshot);
  static QByteArray toCsv(const AttentionSnapshot& snapshot);
  static void exportJson(const AttentionSnapshot& snapshot, const QString& path);
  static void exportCsv(const AttentionSnapshot& snapshot, const QString& path);

  static void writeFile(const QString& path, const QByteArray& contents);  // atomic; throws Error
};

}  // namespace attnscope::ui

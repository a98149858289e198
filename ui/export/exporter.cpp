#include "export/exporter.hpp"

#include <QBuffer>
#include <QDir>
#include <QFileInfo>
#include <QImageWriter>
#include <QPageSize>
#include <QPdfWriter>
#include <QRegularExpression>
#include <QSvgGenerator>
#include <cmath>
#include <limits>
#include <memory>
#include <string_view>

#include "attnscope/atomic_file.hpp"
#include "attnscope/error.hpp"
#include "attnscope/result_format.hpp"
#include "plot/figure_renderer.hpp"

namespace attnscope::ui {
namespace {

constexpr int kMaximumSide = 16384;
constexpr double kVectorCellsPerUnit = 4.0;

// A plot of its own, never shown: exports do not depend on the window's size or hover state.
std::unique_ptr<HeatmapPlot> plotFor(const SnapshotPointer& snapshot, const DisplayOptions& options,
                                     std::optional<MapKey> only) {
  if (!snapshot || snapshot->tokenCount() == 0) throw Error("there is nothing to export: the text is empty");
  auto plot = std::make_unique<HeatmapPlot>();
  plot->setContent(snapshot, options, only);
  if (plot->mapCount() == 0) throw Error("there is nothing to export: no quantity is shown");
  return plot;
}

QSize checkedSize(QSize size, double scale) {
  if (!(scale > 0.0) || scale > 8.0) throw Error("the scale must be above 0 and at most 8");
  const QSize pixels = (QSizeF(size) * scale).toSize();
  if (size.width() < 16 || size.height() < 16 || pixels.width() > kMaximumSide ||
      pixels.height() > kMaximumSide)
    throw Error(QStringLiteral("the image size %1x%2 is out of range (16 to %3 pixels a side)")
                    .arg(pixels.width())
                    .arg(pixels.height())
                    .arg(kMaximumSide)
                    .toStdString());
  return size;
}

// QPicture::play scales what it draws by the device's resolution over the screen's; the picture already holds
// logical pixels, which the painter maps to the device.
void playAtLogicalSize(QPicture picture, QPainter& painter) {
  const QPaintDevice& device = *painter.device();
  painter.scale(qreal(picture.logicalDpiX()) / device.logicalDpiX(),
                qreal(picture.logicalDpiY()) / device.logicalDpiY());
  picture.play(&painter);
}

QImage rasterize(const RecordedImage& recorded) {
  const double scale = recorded.request.scale;
  QImage image((QSizeF(recorded.request.size) * scale).toSize(), QImage::Format_ARGB32_Premultiplied);
  if (image.isNull()) throw Error("not enough memory for the image");
  image.fill(Qt::white);
  // 96 dpi at scale 1, so viewers show the image at its logical size.
  const int dotsPerMeter = static_cast<int>(std::lround(96.0 * scale / 0.0254));
  image.setDotsPerMeterX(dotsPerMeter);
  image.setDotsPerMeterY(dotsPerMeter);
  QPainter painter(&image);
  painter.scale(scale, scale);
  playAtLogicalSize(recorded.picture, painter);
  painter.end();
  return image;
}

// Refuses to take more bytes once the export is cancelled, which stops the PNG encoder mid-image.
class CancellableBuffer : public QBuffer {
 public:
  CancellableBuffer(QByteArray* bytes, const CancelToken& cancel) : QBuffer(bytes), m_cancel(cancel) {}

 protected:
  qint64 writeData(const char* data, qint64 length) override {
    return m_cancel.cancelled() ? -1 : QBuffer::writeData(data, length);
  }

 private:
  const CancelToken& m_cancel;
};

QByteArray encodePng(const QImage& image, const CancelToken& cancel) {
  QByteArray bytes;
  CancellableBuffer buffer(&bytes, cancel);
  buffer.open(QIODevice::WriteOnly);
  QImageWriter writer(&buffer, "png");
  const bool written = writer.write(image);
  cancel.throw_if_cancelled();
  if (!written) throw Error("cannot encode the PNG: " + writer.errorString().toStdString());
  return bytes;
}

QByteArray renderSvg(const QPicture& picture, QSize size, bool inPoints) {
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  QSvgGenerator generator;
  generator.setOutputDevice(&buffer);
  generator.setResolution(96);
  generator.setSize(size);
  generator.setViewBox(QRect(QPoint(0, 0), size));
  generator.setTitle(QStringLiteral("AttnScope heatmaps"));
  generator.setDescription(QStringLiteral("Attention heatmaps exported by AttnScope"));
  QPainter painter;
  if (!painter.begin(&generator)) throw Error("cannot start the SVG renderer");
  playAtLogicalSize(picture, painter);
  painter.end();
  // Qt gives the page size in millimetres; state it in pixels (or the preset's points) so every viewer opens
  // it at the requested size.
  static const QRegularExpression width(QStringLiteral("(<svg[^>]*?)\\swidth=\"[^\"]*\""));
  static const QRegularExpression height(QStringLiteral("(<svg[^>]*?)\\sheight=\"[^\"]*\""));
  QString text = QString::fromUtf8(bytes);
  const QString unit = inPoints ? QStringLiteral("pt") : QString();
  text.replace(width, QStringLiteral("\\1 width=\"%1%2\"").arg(size.width()).arg(unit));
  text.replace(height, QStringLiteral("\\1 height=\"%1%2\"").arg(size.height()).arg(unit));
  return text.toUtf8();
}

QByteArray renderPdf(const QPicture& picture, QSize size) {
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  {
    QPdfWriter writer(&buffer);
    // One point per logical pixel: the page is exactly the requested size.
    writer.setResolution(72);
    writer.setPageSize(QPageSize(QSizeF(size), QPageSize::Point, QString(), QPageSize::ExactMatch));
    writer.setPageMargins(QMarginsF(0, 0, 0, 0));
    writer.setTitle(QStringLiteral("AttnScope heatmaps"));
    writer.setCreator(QStringLiteral("AttnScope"));
    QPainter painter;
    if (!painter.begin(&writer)) throw Error("cannot start the PDF renderer");
    playAtLogicalSize(picture, painter);
    painter.end();
  }
  return bytes;
}

void checkMatricesKept(const AttentionSnapshot& snapshot) {
  if (!snapshot.keepsMatrices())
    throw Error(
        QStringLiteral("the matrices of these %1 tokens are not kept in memory (the window keeps only "
                       "what it draws of a text this long); export them with attnscope-cli")
            .arg(snapshot.tokenCount())
            .toStdString());
}

// The CLI's formats carry the raw scores, which a long text's snapshot keeps only while a score map is shown:
// recomputed here as the engine computes them (q·k, −∞ where masked).
const AttentionResult& withScores(const AttentionResult& result, AttentionResult& scratch) {
  if (result.heads.empty() || result.heads.front().scores.size() != 0) return result;
  scratch = result;
  for (HeadResult& head : scratch.heads) {
    head.scores.noalias() = head.queries * head.keys.transpose();
    head.scores = (result.mask.array() != 0).select(-std::numeric_limits<float>::infinity(), head.scores);
  }
  return scratch;
}

QString csvField(const QString& text) {
  if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"')) &&
      !text.contains(QLatin1Char('\n')) && !text.contains(QLatin1Char('\r')))
    return text;
  QString quoted = text;
  quoted.replace(QLatin1Char('"'), QStringLiteral("\"\""));
  return QLatin1Char('"') + quoted + QLatin1Char('"');
}

}  // namespace

ImageFormat Exporter::formatFor(const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == QLatin1String("png")) return ImageFormat::png;
  if (suffix == QLatin1String("svg")) return ImageFormat::svg;
  if (suffix == QLatin1String("pdf")) return ImageFormat::pdf;
  throw Error("cannot export to '" + path.toStdString() + "': the name must end in .png, .svg or .pdf");
}

QString Exporter::suffix(ImageFormat format) {
  switch (format) {
    case ImageFormat::png:
      return QStringLiteral("png");
    case ImageFormat::svg:
      return QStringLiteral("svg");
    case ImageFormat::pdf:
      return QStringLiteral("pdf");
  }
  return QStringLiteral("png");
}

QSize Exporter::naturalSize(const SnapshotPointer& snapshot, const DisplayOptions& options,
                            std::optional<MapKey> only) {
  return plotFor(snapshot, options, only)->naturalSize();
}

RecordedImage Exporter::record(const SnapshotPointer& snapshot, const DisplayOptions& options,
                               std::optional<MapKey> only, const ImageRequest& request) {
  FigureRenderer figure(snapshot, options, only);
  RecordedImage recorded;
  recorded.request = request;
  if (request.format != ImageFormat::png) recorded.request.scale = 1.0;
  recorded.request.size = checkedSize(
      request.size.isEmpty() ? naturalSize(snapshot, options, only) : request.size, recorded.request.scale);
  QPainter painter(&recorded.picture);
  // Vector output keeps a long text's cells at a few per point, so zooming into the page shows them.
  const double pixelsPerUnit =
      request.format == ImageFormat::png ? recorded.request.scale : kVectorCellsPerUnit;
  figure.paint(&painter, QSizeF(recorded.request.size), recorded.request.style, pixelsPerUnit);
  painter.end();
  return recorded;
}

QByteArray Exporter::encode(const RecordedImage& image, const CancelToken& cancel) {
  cancel.throw_if_cancelled();
  switch (image.request.format) {
    case ImageFormat::png:
      return encodePng(rasterize(image), cancel);
    case ImageFormat::svg:
      return renderSvg(image.picture, image.request.size, image.request.inPoints);
    case ImageFormat::pdf:
      return renderPdf(image.picture, image.request.size);
  }
  return {};
}

QImage Exporter::toRaster(const RecordedImage& image) {
  return rasterize(image);
}

QImage Exporter::renderRaster(const SnapshotPointer& snapshot, const DisplayOptions& options,
                              std::optional<MapKey> only, QSize size, double scale) {
  return rasterize(record(snapshot, options, only, ImageRequest{ImageFormat::png, size, scale}));
}

QByteArray Exporter::renderImage(const SnapshotPointer& snapshot, const DisplayOptions& options,
                                 std::optional<MapKey> only, const ImageRequest& request) {
  return encode(record(snapshot, options, only, request));
}

void Exporter::exportImage(const SnapshotPointer& snapshot, const DisplayOptions& options,
                           std::optional<MapKey> only, const ImageRequest& request, const QString& path) {
  writeFile(path, renderImage(snapshot, options, only, request));
}

std::vector<std::pair<MapKey, QString>> Exporter::eachMapFiles(const SnapshotPointer& snapshot,
                                                               const DisplayOptions& options,
                                                               ImageFormat format, const QString& folder) {
  const QFileInfo info(folder);
  if (!info.isDir())
    throw Error("cannot export to " + folder.toStdString() + ": it is not a folder (create it first)");
  const FigureRenderer figure(snapshot, options);
  std::vector<std::pair<MapKey, QString>> files;
  for (int group = 0; group < figure.groupCount(); ++group)
    for (int head = 0; head < figure.headCount(); ++head) {
      const MapKey key = figure.mapKey(group, head);
      files.emplace_back(key, QDir(folder).filePath(HeatmapPlot::fileStem(*snapshot, key) + QLatin1Char('.') +
                                                    suffix(format)));
    }
  return files;
}

QStringList Exporter::exportEachMap(const SnapshotPointer& snapshot, const DisplayOptions& options,
                                    const ImageRequest& request, const QString& folder) {
  QStringList written;
  for (const auto& [key, path] : eachMapFiles(snapshot, options, request.format, folder)) {
    exportImage(snapshot, options, key, request, path);
    written << path;
  }
  return written;
}

namespace {

// A model row as attnscope-cli compute --model --layers L --mask M writes it (raw scores recomputed: the
// snapshot keeps only the weights).
Gpt2Result modelRow(const AttentionSnapshot& snapshot, int row) {
  Gpt2Result result;
  AttentionResult scratch;
  result.layers.push_back(withScores(*snapshot.rows[static_cast<std::size_t>(row)].result, scratch));
  result.layer_indices.push_back(snapshot.model->layer);
  result.final_hidden = snapshot.model->finalHidden[static_cast<std::size_t>(row)];
  return result;
}

std::string modelMaskName(const MaskSpec& mask) {
  if (mask.kind == MaskKind::none || mask.kind == MaskKind::causal) return "causal";
  return "causal+" + mask.to_string();
}

}  // namespace

QByteArray Exporter::toJson(const AttentionSnapshot& snapshot) {
  checkMatricesKept(snapshot);
  Json rows = Json::array();
  for (int row = 0; row < snapshot.maskCount(); ++row) {
    AttentionResult scratch;
    const MaskedResult& masked = snapshot.rows[row];
    rows.push_back(snapshot.model
                       ? model_result_to_json(snapshot.model->tokens, snapshot.model->config,
                                              modelMaskName(masked.mask), modelRow(snapshot, row))
                       : result_to_json(snapshot.tokens, masked.config, withScores(*masked.result, scratch)));
  }
  return QByteArray::fromStdString(rows.dump() + "\n");
}

QByteArray Exporter::toCsv(const AttentionSnapshot& snapshot) {
  checkMatricesKept(snapshot);
  QByteArray csv;
  bool header = true;
  for (int index = 0; index < snapshot.maskCount(); ++index) {
    const MaskedResult& row = snapshot.rows[static_cast<std::size_t>(index)];
    const QByteArray prefix = csvField(QString::fromStdString(row.mask.to_string())).toUtf8() + ',';
    AttentionResult scratch;
    const std::string text = snapshot.model
                                 ? model_result_to_csv(snapshot.model->tokens, modelRow(snapshot, index))
                                 : result_to_csv(snapshot.tokens, withScores(*row.result, scratch));
    std::string_view rest(text);
    bool first = true;
    while (!rest.empty()) {
      const std::size_t end = rest.find('\n');
      const std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      if (first) {
        first = false;
        if (!header) continue;
        header = false;
        csv += "mask,";
      } else {
        csv += prefix;
      }
      csv += QByteArray(line.data(), static_cast<qsizetype>(line.size()));
      csv += '\n';
    }
  }
  return csv;
}

void Exporter::exportJson(const AttentionSnapshot& snapshot, const QString& path) {
  writeFile(path, toJson(snapshot));
}

void Exporter::exportCsv(const AttentionSnapshot& snapshot, const QString& path) {
  writeFile(path, toCsv(snapshot));
}

void Exporter::writeFile(const QString& path, const QByteArray& contents) {
  write_file_atomically(QFile::encodeName(path).toStdString(),
                        std::string_view(contents.constData(), static_cast<std::size_t>(contents.size())));
}

}  // namespace attnscope::ui

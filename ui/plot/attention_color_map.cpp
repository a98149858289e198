#include "plot/attention_color_map.hpp"

#include <QFontMetrics>
#include <algorithm>
#include <cmath>
#include <limits>

#include "plot/color_maps.hpp"

namespace attnscope::ui {
namespace {

// The hatch's tile, as ColorMaps::maskedBrush tiles it (from the painter's origin, in logical pixels).
const QImage& hatchTile() {
  static const QImage tile = ColorMaps::maskedBrush().textureImage().convertToFormat(QImage::Format_RGB32);
  return tile;
}

// For each of `count` device pixels from `first` along an axis, the cell its centre falls in (-1 outside the
// cells held); `scale` and `offset` take the axis's logical pixels to device pixels.
std::vector<int> cellsAlong(const QCPAxis* axis, int first, int count, double scale, double offset, int begin,
                            int end, int block) {
  std::vector<int> cells(static_cast<std::size_t>(std::max(0, count)));
  for (int i = 0; i < count; ++i) {
    const double coordinate = axis->pixelToCoord((first + i + 0.5 - offset) / scale);
    const int token = static_cast<int>(std::floor(coordinate + 0.5));
    cells[static_cast<std::size_t>(i)] = token >= begin && token < end ? (token - begin) / block : -1;
  }
  return cells;
}

// Drops the pixels outside the cells at both ends (between them the cells are contiguous); returns how many
// were dropped in front.
int trimOutside(std::vector<int>& cells) {
  const auto first = std::find_if(cells.begin(), cells.end(), [](int cell) { return cell >= 0; });
  const auto last = std::find_if(cells.rbegin(), cells.rend(), [](int cell) { return cell >= 0; }).base();
  if (first >= last) {
    cells.clear();
    return 0;
  }
  const auto dropped = static_cast<int>(first - cells.begin());
  cells.erase(last, cells.end());
  cells.erase(cells.begin(), first);
  return dropped;
}

// The hatch texel of each device pixel from `first`: the logical pixel it is in, modulo the tile.
std::vector<int> texelsAlong(int first, int count, double scale, double offset) {
  const int tile = hatchTile().width();
  std::vector<int> texels(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const auto logical = static_cast<int>(std::floor((first + i + 0.5 - offset) / scale));
    texels[static_cast<std::size_t>(i)] = ((logical % tile) + tile) % tile;
  }
  return texels;
}

}  // namespace

AttentionColorMap::AttentionColorMap(QCPAxis* keyAxis, QCPAxis* valueAxis) : QCPColorMap(keyAxis, valueAxis) {
  setInterpolate(false);
  setTightBoundary(false);
}

bool AttentionColorMap::setValues(const AttentionSnapshot& snapshot, int maskRow, int head, Quantity quantity,
                                  const CellRegion& wanted) {
  const int n = snapshot.tokenCount();
  std::optional<MapCells> cells = snapshot.takePreparedCells(maskRow, head, quantity);
  if (cells && cells->region.serves(wanted)) {
    setCells(std::move(*cells), n);
    return true;
  }
  // A quantity that was not on screen when the snapshot was computed, or a second plot of it (an export).
  if (n <= kLargestBuiltHere) {
    setCells(buildMapCells(snapshot, maskRow, head, quantity, wanted), n);
    return true;
  }
  // Cells for another size still beat an empty map until the right ones arrive.
  if (cells) {
    setCells(std::move(*cells), n);
  } else {
    m_tokens = n;
    m_region = CellRegion{};
    m_minimum = m_maximum = m_percentile99 = std::numeric_limits<double>::quiet_NaN();
    m_anyMasked = false;
    data()->clear();
    ++m_cellsVersion;
  }
  return false;
}

void AttentionColorMap::setCells(MapCells cells, int tokenCount) {
  ++m_cellsVersion;
  m_tokens = tokenCount;
  m_region = cells.region;
  setData(cells.cells.release(), /*copy=*/false);
  // Most maps have no masked cell (mask none): they skip the hatch, the costliest part of drawing a map.
  m_anyMasked = cells.anyMasked;
  if (m_region.keyBegin == 0 && m_region.keyEnd == m_tokens && m_region.queryBegin == 0 &&
      m_region.queryEnd == m_tokens) {
    m_minimum = cells.minimum;
    m_maximum = cells.maximum;
    m_percentile99 = cells.percentile99;
  }
}

double AttentionColorMap::cellValue(int query, int key) const {
  if (!m_region.contains(query, key)) return std::numeric_limits<double>::quiet_NaN();
  return data()->cell((key - m_region.keyBegin) / m_region.keyBlock,
                      (query - m_region.queryBegin) / m_region.queryBlock);
}

void AttentionColorMap::draw(QCPPainter* painter) {
  if (m_tokens == 0 || m_region.isEmpty() || data()->isEmpty() || !keyAxis() || !valueAxis()) return;
  if (!drawPixels(painter)) {
    // The hatch under the whole map shows through the masked (NaN, transparent) cells.
    if (m_anyMasked) {
      const QPointF a(keyAxis()->coordToPixel(-0.5), valueAxis()->coordToPixel(-0.5));
      const QPointF b(keyAxis()->coordToPixel(m_tokens - 0.5), valueAxis()->coordToPixel(m_tokens - 0.5));
      ColorMaps::paintHatch(painter, QRectF(a, b).normalized());
    }
    QCPColorMap::draw(painter);
  }
  drawValues(painter);
}

bool AttentionColorMap::drawPixels(QCPPainter* painter) {
  // QCustomPlot scales the cells' image to the map with blending over a hatch filled beneath it, on every
  // replot: most of drawing a map. Made here, each device pixel is written once, opaque.
  const QTransform device = painter->deviceTransform();
  const bool raster = painter->paintEngine() && painter->paintEngine()->type() == QPaintEngine::Raster;
  if (!raster || painter->modes().testFlag(QCPPainter::pmVectorized) || device.type() > QTransform::TxScale ||
      device.m11() <= 0 || device.m22() <= 0)
    return false;
  const QRectF area = device.mapRect(QRectF(clipRect()));
  const auto left = static_cast<int>(std::floor(area.left())), top = static_cast<int>(std::floor(area.top()));
  const auto right = static_cast<int>(std::ceil(area.right())),
             bottom = static_cast<int>(std::ceil(area.bottom()));
  std::vector<int> columns = cellsAlong(keyAxis(), left, right - left, device.m11(), device.dx(),
                                        m_region.keyBegin, m_region.keyEnd, m_region.keyBlock);
  std::vector<int> rows = cellsAlong(valueAxis(), top, bottom - top, device.m22(), device.dy(),
                                     m_region.queryBegin, m_region.queryEnd, m_region.queryBlock);
  const int firstColumn = left + trimOutside(columns), firstRow = top + trimOutside(rows);
  if (columns.empty() || rows.empty()) return true;
  const PixelKey key{
      m_cellsVersion,
      dataRange(),
      keyAxis()->range(),
      valueAxis()->range(),
      dataScaleType() == QCPAxis::stLogarithmic,
      QRect(firstColumn, firstRow, static_cast<int>(columns.size()), static_cast<int>(rows.size())),
      device};
  if (m_pixels.isNull() || !(key == m_pixelKey) || !(gradient() == m_pixelGradient)) {
    m_pixelKey = key;
    m_pixelGradient = gradient();
    m_pixels = QImage(key.devicePixels.size(), QImage::Format_RGB32);
    const QImage& tile = hatchTile();
    const std::vector<int> texelColumns =
        texelsAlong(firstColumn, key.devicePixels.width(), device.m11(), device.dx());
    const std::vector<int> texelRows =
        texelsAlong(firstRow, key.devicePixels.height(), device.m22(), device.dy());
    const int keyCells = data()->keySize();
    std::vector<double> values(static_cast<std::size_t>(keyCells));
    std::vector<QRgb> colours(values.size());
    int colouredRow = -1;
    bool rowMasked = false;
    for (int y = 0; y < m_pixels.height(); ++y) {
      auto* line = reinterpret_cast<QRgb*>(m_pixels.scanLine(y));
      const int cellRow = rows[static_cast<std::size_t>(y)];
      // A row of cells spans several pixel rows: the one above, unless a hatch in it moves on.
      if (cellRow == colouredRow && !rowMasked) {
        std::copy_n(reinterpret_cast<const QRgb*>(m_pixels.constScanLine(y - 1)), m_pixels.width(), line);
        continue;
      }
      if (cellRow != colouredRow) {
        for (int cell = 0; cell < keyCells; ++cell)
          values[static_cast<std::size_t>(cell)] = data()->cell(cell, cellRow);
        m_pixelGradient.colorize(values.data(), key.dataRange, colours.data(), keyCells, 1, key.logarithmic);
        rowMasked = std::any_of(values.begin(), values.end(), [](double value) { return std::isnan(value); });
        colouredRow = cellRow;
      }
      const auto* hatch =
          reinterpret_cast<const QRgb*>(tile.constScanLine(texelRows[static_cast<std::size_t>(y)]));
      for (std::size_t x = 0; x < columns.size(); ++x) {
        const auto cell = static_cast<std::size_t>(columns[x]);
        line[x] = std::isnan(values[cell]) ? hatch[texelColumns[x]] : colours[cell];
      }
    }
  }
  // One image pixel per device pixel: a copy, no scaling.
  painter->save();
  painter->setRenderHint(QPainter::SmoothPixmapTransform, false);
  painter->drawImage(device.inverted().mapRect(QRectF(m_pixelKey.devicePixels)), m_pixels);
  painter->restore();
  return true;
}

void AttentionColorMap::drawValues(QCPPainter* painter) {
  if (m_tokens == 0 || m_region.isReduced() || m_region.isEmpty() || !keyAxis() || !valueAxis()) return;
  const double cellWidth = std::abs(keyAxis()->coordToPixel(1) - keyAxis()->coordToPixel(0));
  const double cellHeight = std::abs(valueAxis()->coordToPixel(1) - valueAxis()->coordToPixel(0));
  if (cellWidth < kMinimumLabelledCellWidth || cellHeight < kMinimumLabelledCellHeight) return;

  QFont font = keyAxis()->tickLabelFont();
  font.setPixelSize(std::clamp(static_cast<int>(std::min(cellHeight * 0.32, cellWidth * 0.2)), 9, 15));
  painter->setFont(font);
  const int decimals = cellWidth >= 52 ? 3 : 2;
  QCPColorGradient colors = gradient();
  // Only the cells in view: a zoomed-in long text has millions outside it.
  const auto visible = [](const QCPRange& range, int begin, int end) {
    return std::pair(std::max(begin, static_cast<int>(std::floor(range.lower + 0.5))),
                     std::min(end, static_cast<int>(std::ceil(range.upper + 0.5))));
  };
  const auto [keyBegin, keyEnd] = visible(keyAxis()->range(), m_region.keyBegin, m_region.keyEnd);
  const auto [queryBegin, queryEnd] = visible(valueAxis()->range(), m_region.queryBegin, m_region.queryEnd);
  for (int query = queryBegin; query < queryEnd; ++query)
    for (int key = keyBegin; key < keyEnd; ++key) {
      const double value = cellValue(query, key);
      if (std::isnan(value)) continue;
      const QPointF centre(keyAxis()->coordToPixel(key), valueAxis()->coordToPixel(query));
      const QRectF cell(centre.x() - cellWidth / 2, centre.y() - cellHeight / 2, cellWidth, cellHeight);
      painter->setPen(ColorMaps::textOn(QColor::fromRgba(colors.color(value, dataRange()))));
      painter->drawText(cell, Qt::AlignCenter, QString::number(value, 'f', decimals));
    }
}

}  // namespace attnscope::ui

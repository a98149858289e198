#include "plot/figure_renderer.hpp"

#include <QImage>
#include <algorithm>
#include <cmath>
#include <limits>

#include "attnscope/error.hpp"
#include "plot/color_maps.hpp"
#include "plot/stat_readout.hpp"
#include "plot/token_axis_ticker.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

bool isModelsOwnMask(const AttentionSnapshot& snapshot, int row) {
  const MaskKind kind = snapshot.rows[static_cast<std::size_t>(row)].mask.kind;
  return snapshot.model && (kind == MaskKind::none || kind == MaskKind::causal);
}

// The cells as an image, one pixel per cell (masked cells transparent, for the hatch under them to show).
QImage cellImage(const MapCells& cells, QCPColorGradient gradient, const QCPRange& range) {
  QCPColorMapData& data = *cells.cells;
  QImage image(data.keySize(), data.valueSize(), QImage::Format_ARGB32);
  for (int query = 0; query < data.valueSize(); ++query) {
    auto* line = reinterpret_cast<QRgb*>(image.scanLine(query));
    for (int key = 0; key < data.keySize(); ++key) {
      const double value = data.cell(key, query);
      line[key] = std::isnan(value) ? qRgba(0, 0, 0, 0) : ColorMaps::colourOf(gradient, value, range);
    }
  }
  return image;
}

}  // namespace

FigureRenderer::FigureRenderer(SnapshotPointer snapshot, const DisplayOptions& options,
                               std::optional<MapKey> only)
    : m_snapshot(std::move(snapshot)), m_options(options) {
  if (!m_snapshot || m_snapshot->tokenCount() == 0)
    throw Error("there is nothing to export: the text is empty");
  if (only) {
    m_single = true;
    m_groups.push_back({only->maskRow, only->quantity});
    m_heads.push_back(only->head);
    m_quantities.push_back(only->quantity);
    return;
  }
  for (const Quantity quantity : options.quantities) {
    if (!m_snapshot->hasQuantity(quantity)) continue;
    m_quantities.push_back(quantity);
    bool modelsOwnShown = false;
    for (int row = 0; row < m_snapshot->maskCount(); ++row) {
      if (isModelsOwnMask(*m_snapshot, row)) {
        if (modelsOwnShown) continue;  // the same map again
        modelsOwnShown = true;
      }
      m_groups.push_back({row, quantity});
    }
  }
  if (m_groups.empty()) throw Error("there is nothing to export: no quantity is shown");
  for (int head = 0; head < m_snapshot->headCount(); ++head) m_heads.push_back(head);
}

MapKey FigureRenderer::mapKey(int group, int head) const {
  const Group& shown = m_groups[static_cast<std::size_t>(group)];
  return MapKey{shown.maskRow, m_heads[static_cast<std::size_t>(head)], shown.quantity};
}

FigureSpec FigureRenderer::spec(QSizeF page, const FigureStyle& style) const {
  FigureSpec spec;
  spec.page = page;
  spec.style = style;
  for (const int head : m_heads) {
    spec.columnHeaders << m_snapshot->headLabel(head);
    spec.shortColumnHeaders << (m_snapshot->isSummary(head) ? toString(m_snapshot->headSummary)
                                                            : QString::number(head));
  }
  // Several quantities head their blocks of rows; one map names its quantity in its row header.
  spec.scaleHeaders = m_quantities.size() > 1;
  for (const Group& group : m_groups) {
    QString header = isModelsOwnMask(*m_snapshot, group.maskRow) ? QStringLiteral("causal (the model's own)")
                                                                 : m_snapshot->maskLabel(group.maskRow);
    if (m_single || (!spec.scaleHeaders && group.quantity != Quantity::weights))
      header += QStringLiteral(" \u00b7 ") + toString(group.quantity);
    const auto scale =
        std::find(m_quantities.begin(), m_quantities.end(), group.quantity) - m_quantities.begin();
    spec.groups.push_back({header, static_cast<int>(scale)});
  }
  for (std::size_t i = 0; i < m_quantities.size(); ++i) {
    FigureSpec::Scale scale{colorScaleLabel(m_quantities[i]), toString(m_quantities[i]), {}};
    if (!m_options.sharedRange) {
      // Each map spans the whole bar with its own range; its top is its largest value unless a map's 99th
      // percentile cut it (ColorMaps::rangeFor), and then "max" would misstate it.
      const bool cut = std::any_of(m_cells.begin(), m_cells.end(), [&](const MapCells& cells) {
        return cells.quantity == m_quantities[i] &&
               ColorMaps::rangeFor(cells.quantity, cells.minimum, cells.maximum, cells.percentile99).upper <
                   cells.maximum;
      });
      scale.label += QStringLiteral(", each map's range");
      scale.ticks = {cut ? QStringLiteral("\u2265 top") : QStringLiteral("max"), QStringLiteral("mid"),
                     QStringLiteral("min")};
    } else if (i < m_ranges.size()) {
      const QStringList ticks = ColorMaps::tickTexts(m_ranges[i], m_maxima[i]);
      scale.ticks = QStringList(ticks.rbegin(), ticks.rend());
    } else {
      // Before the cells are built: room for any value printed with 3 significant digits.
      scale.ticks = {QStringLiteral("\u22120.000"), QStringLiteral("\u22120.000"),
                     QStringLiteral("\u22120.000")};
    }
    spec.scales.push_back(scale);
  }
  if (m_options.statReadouts) {
    bool any = false;
    for (const Group& group : m_groups) {
      QStringList readouts;
      for (const int head : m_heads) {
        readouts << statReadout(*m_snapshot, group.maskRow, head);
        any = any || !readouts.back().isEmpty();
      }
      spec.readouts.push_back(readouts);
    }
    if (!any) spec.readouts.clear();
  }
  for (const QString& token : m_snapshot->tokenTexts)
    spec.tokens << displayToken(token, TokenAxisTicker::kDefaultMaxCharacters);
  spec.maskedKey = m_snapshot->anyMasked;
  CellRegion coarsest;
  for (const MapCells& cells : m_cells)
    if (cells.region.keyBlock > coarsest.keyBlock) coarsest = cells.region;
  if (coarsest.isReduced())
    spec.notes << QStringLiteral("long text: each drawn cell is the ") + coarsest.note();
  return spec;
}

void FigureRenderer::buildCells(double side, double pixelsPerUnit) {
  const int n = m_snapshot->tokenCount();
  const int pixels = std::max(1, static_cast<int>(std::ceil(side * pixelsPerUnit)));
  if (!m_cells.empty() && pixels == m_cellPixels) return;
  m_cellPixels = pixels;
  m_cells.clear();
  const CellRegion region = CellRegion::whole(n, pixels, m_options.reduction);
  for (int group = 0; group < groupCount(); ++group)
    for (int head = 0; head < headCount(); ++head) {
      const MapKey key = mapKey(group, head);
      m_cells.push_back(buildMapCells(*m_snapshot, key.maskRow, key.head, key.quantity, region));
    }
  m_ranges.clear();
  m_maxima.clear();
  for (const Quantity quantity : m_quantities) {
    // As the scrolling maps' shared range: the top is the largest of the maps' percentiles.
    double minimum = std::numeric_limits<double>::infinity(), maximum = -minimum, percentile = maximum;
    for (const MapCells& cells : m_cells) {
      if (cells.quantity != quantity || std::isnan(cells.minimum)) continue;
      minimum = std::min(minimum, cells.minimum);
      maximum = std::max(maximum, cells.maximum);
      percentile = std::fmax(percentile, cells.percentile99);
    }
    m_ranges.push_back(ColorMaps::rangeFor(quantity, minimum, maximum, percentile));
    m_maxima.push_back(maximum);
  }
}

FigureLayout FigureRenderer::layout(QSizeF page, const FigureStyle& style, double pixelsPerUnit) {
  // The colour bars' numbers need the cells, whose size needs the layout: lay out with room for any number,
  // build the cells for those maps, then lay out with the real numbers (the maps barely change).
  const FigureLayout first = FigureLayout::compute(spec(page, style));
  buildCells(first.mapSide(), pixelsPerUnit);
  return FigureLayout::compute(spec(page, style));
}

FigureLayout FigureRenderer::paint(QPainter* painter, QSizeF page, const FigureStyle& style,
                                   double pixelsPerUnit) {
  const FigureLayout figure = layout(page, style, pixelsPerUnit);
  painter->save();
  painter->fillRect(QRectF(QPointF(0, 0), page), Qt::white);
  // Cells stay sharp when scaled up: a cell is a block of one colour, never a blur.
  painter->setRenderHint(QPainter::SmoothPixmapTransform, false);
  for (int group = 0; group < groupCount(); ++group)
    for (int head = 0; head < headCount(); ++head) {
      const MapCells& cells = m_cells[static_cast<std::size_t>(group * headCount() + head)];
      const QRectF map = figure.mapRect(group, head);
      const auto scale =
          std::find(m_quantities.begin(), m_quantities.end(), cells.quantity) - m_quantities.begin();
      if (m_snapshot->anyMasked) ColorMaps::paintHatch(painter, map, figure.hatchSpacing());
      const QCPRange range = m_options.sharedRange ? m_ranges[static_cast<std::size_t>(scale)]
                                                   : ColorMaps::rangeFor(cells.quantity, cells.minimum,
                                                                         cells.maximum, cells.percentile99);
      painter->drawImage(map,
                         cellImage(cells, ColorMaps::forQuantity(cells.quantity, m_options.colorMap), range));
    }
  for (std::size_t scale = 0; scale < figure.scaleBars().size(); ++scale) {
    const QRectF bar = figure.scaleBars()[scale];
    if (bar.isEmpty()) continue;
    paintScaleStrip(painter, bar, ColorMaps::forQuantity(m_quantities[scale], m_options.colorMap));
    painter->setPen(QPen(QColor(0x80, 0x80, 0x80), 0));
    painter->setBrush(Qt::NoBrush);
    painter->drawRect(bar);
  }
  if (!figure.maskedSwatch().isEmpty()) {
    ColorMaps::paintHatch(painter, figure.maskedSwatch(), figure.hatchSpacing());
    painter->setPen(QPen(ColorMaps::maskedLine(), 0));
    painter->setBrush(Qt::NoBrush);
    painter->drawRect(figure.maskedSwatch());
  }
  for (const FigureText& text : figure.texts()) {
    // Readouts in grey: a second line that reads after the header.
    painter->setPen(text.role == FigureTextRole::readout ? QColor(0x50, 0x50, 0x50)
                                                         : QColor(0x20, 0x20, 0x20));
    paintText(painter, text);
  }
  painter->restore();
  return figure;
}

void FigureRenderer::paintScaleStrip(QPainter* painter, const QRectF& bar, QCPColorGradient gradient) {
  QImage strip(1, 256, QImage::Format_ARGB32);
  for (int y = 0; y < 256; ++y) strip.setPixel(0, y, gradient.color(1.0 - y / 255.0, QCPRange(0.0, 1.0)));
  painter->drawImage(bar, strip);
}

void FigureRenderer::paintText(QPainter* painter, const FigureText& text) {
  painter->setFont(text.font);
  if (!text.vertical) {
    painter->drawText(text.rect, static_cast<int>(text.alignment), text.text);
    return;
  }
  painter->save();
  painter->translate(text.rect.left(), text.rect.bottom());
  painter->rotate(-90.0);
  painter->drawText(QRectF(0.0, 0.0, text.rect.height(), text.rect.width()), static_cast<int>(text.alignment),
                    text.text);
  painter->restore();
}

}  // namespace attnscope::ui

#include "plot/figure_layout.hpp"

#include <QFontMetricsF>
#include <algorithm>
#include <cmath>

#include "attnscope/error.hpp"

namespace attnscope::ui {
namespace {

QFont fontOf(int pixels, bool bold = false) {
  QFont font;
  font.setPixelSize(std::max(1, pixels));
  font.setBold(bold);
  return font;
}

double widthOf(const QFont& font, const QString& text) {
  return QFontMetricsF(font).horizontalAdvance(text);
}
double heightOf(const QFont& font) {
  return QFontMetricsF(font).height();
}

double widest(const QFont& font, const QStringList& texts) {
  double width = 0.0;
  const QFontMetricsF metrics(font);
  for (const QString& text : texts) width = std::max(width, metrics.horizontalAdvance(text));
  return width;
}

// Spacing in layout units, proportional to the figure's text so a paper figure (in points) is as airy as a
// slide (in pixels).
struct Spacing {
  double margin, gap, groupGap, labelPad, bar;
  explicit Spacing(const FigureStyle& style)
      : margin(std::max(2.0, style.notePixels / 2.0)),
        gap(std::max(3.0, style.tickPixels / 3.0)),
        groupGap(std::max(6.0, style.tickPixels * 0.75)),
        labelPad(std::max(2.0, style.tickPixels / 4.0)),
        bar(std::max(5.0, style.tickPixels * 0.8)) {}
};

// The readouts' largest font (smaller than the headers: a second line under them) and the height of their
// band over each map; 0 without readouts.
int readoutPixelsOf(const FigureStyle& style) {
  return std::max(style.minimumTickPixels, style.notePixels - 1);
}
double readoutBandOf(const FigureStyle& style, bool readouts) {
  return readouts ? heightOf(fontOf(readoutPixelsOf(style))) + 1.0 : 0.0;
}
bool hasReadouts(const FigureSpec& spec) {
  for (const QStringList& group : spec.readouts)
    for (const QString& readout : group)
      if (!readout.isEmpty()) return true;
  return false;
}
QStringList allReadouts(const FigureSpec& spec) {
  QStringList all;
  for (const QStringList& group : spec.readouts) all << group;
  return all;
}

}  // namespace

// How the token labels are drawn for a candidate layout.
struct FigureLayout::LabelPlan {
  int pixels = 0;  // 0: left off
  int step = 0;
  bool keysVertical = true;
  double queryBand = 0.0;  // width left of the grid
  double keyBand = 0.0;    // height under the grid
};

struct FigureLayout::Candidate {
  int wrapRows = 1, columns = 1;
  bool rowHeaders = true;  // room is kept for them (none when they cannot fit the groups anyway)
  bool readouts = false;   // room is kept over each map for its readout
  double side = 0.0;
  LabelPlan labels;
};

bool FigureLayout::fitLabels(const FigureSpec& spec, double side, int pixels, bool thin, LabelPlan* plan) {
  const int n = static_cast<int>(spec.tokens.size());
  const double height = heightOf(fontOf(pixels));
  const double cell = side / std::max(1, n);
  if (!thin) {
    if (cell < height) return false;
    plan->step = 1;
    return true;
  }
  // Thinned: the first and the last token at least.
  if (side < 2.0 * height) return false;
  plan->step = std::max(1, static_cast<int>(std::ceil(height / cell)));
  return true;
}

FigureLayout::Candidate FigureLayout::plan(const FigureSpec& spec, int wrapRows, bool rowHeaders,
                                           bool readouts) {
  const Spacing space(spec.style);
  const int heads = static_cast<int>(spec.columnHeaders.size());
  const int groups = static_cast<int>(spec.groups.size());
  const int columns = (heads + wrapRows - 1) / wrapRows;
  const int gridRows = groups * wrapRows;
  const QFont header = fontOf(spec.style.headerPixels, true), note = fontOf(spec.style.notePixels);
  const double headerBand = heightOf(header) + 2.0;
  const double rowHeaderBand =
      rowHeaders ? (heightOf(header) + space.gap) * (spec.scaleHeaders ? 2 : 1) : 0.0;
  QStringList ticks;
  for (const FigureSpec::Scale& scale : spec.scales) ticks << scale.ticks;
  const double scaleBand =
      spec.scales.empty() ? 0.0
                          : 2.0 * space.gap + space.bar + 3.0 + widest(note, ticks) + 3.0 + heightOf(note);
  const double noteLine = heightOf(note) + 2.0;
  // The given notes, the masked-cell key, and a line for whatever headers had to be left out.
  const double notesBand = (static_cast<int>(spec.notes.size()) + (spec.maskedKey ? 1 : 0) + 1) * noteLine;
  const int headerBands = wrapRows > 1 ? gridRows : 1;
  const double fixedHeight = 2.0 * space.margin + headerBands * headerBand + notesBand +
                             gridRows * readoutBandOf(spec.style, readouts) +
                             groups * (wrapRows - 1) * space.gap + (groups - 1) * space.groupGap;
  const double fixedWidth = 2.0 * space.margin + rowHeaderBand + scaleBand + (columns - 1) * space.gap;
  // Thinned or left-off labels are said on a line of their own.
  const auto sideFor = [&](const LabelPlan& labels) {
    return std::min((spec.page.width() - fixedWidth - labels.queryBand) / columns,
                    (spec.page.height() - fixedHeight - labels.keyBand -
                     (labels.step == 1 || !spec.tokenAxes ? 0.0 : noteLine)) /
                        gridRows);
  };
  Candidate candidate{wrapRows, columns, rowHeaders, readouts, 0.0, {}};
  if (!spec.tokenAxes) {
    candidate.side = sideFor(LabelPlan{});
    return candidate;
  }

  // Largest font first, then smaller ones down to the minimum, then thinned at the minimum, then none.
  const int n = static_cast<int>(spec.tokens.size());
  for (int pixels = spec.style.tickPixels; pixels >= spec.style.minimumTickPixels; --pixels) {
    const bool thin = pixels == spec.style.minimumTickPixels;
    for (const bool tryThin : {false, true}) {
      if (tryThin && !thin) continue;
      const QFont font = fontOf(pixels);
      const double widestLabel = widest(font, spec.tokens);
      LabelPlan labels{pixels, 0, true, widestLabel + space.labelPad, widestLabel + space.labelPad};
      double side = sideFor(labels);
      if (!fitLabels(spec, side, pixels, tryThin, &labels)) continue;
      // Horizontal key labels take less height, when each fits its column.
      LabelPlan flat = labels;
      flat.keysVertical = false;
      flat.keyBand = heightOf(font) + space.labelPad;
      const double flatSide = sideFor(flat);
      if (labels.step == 1 && widestLabel + 2.0 <= flatSide / std::max(1, n)) {
        labels = flat;
        side = flatSide;
      }
      candidate.side = side;
      candidate.labels = labels;
      return candidate;
    }
  }
  candidate.side = sideFor(LabelPlan{});
  return candidate;
}

FigureLayout FigureLayout::compute(const FigureSpec& spec) {
  const int heads = static_cast<int>(spec.columnHeaders.size());
  if (heads == 0 || spec.groups.empty() || (spec.tokenAxes && spec.tokens.isEmpty()))
    throw Error("there is nothing to lay out: no map is shown");
  const bool readouts = hasReadouts(spec);
  if (readouts && static_cast<int>(spec.readouts.size()) != static_cast<int>(spec.groups.size()))
    throw Error("the figure has readouts for some groups only");
  Candidate best;
  for (int wrapRows = 1; wrapRows <= heads; ++wrapRows) {
    if (spec.wrapRows > 0 && wrapRows != std::min(spec.wrapRows, heads)) continue;
    // Only the wraps that differ: 12 heads in 5 rows of 3 columns is 4 rows of 3.
    const int columns = (heads + wrapRows - 1) / wrapRows;
    if ((heads + columns - 1) / columns != wrapRows) continue;
    Candidate candidate = plan(spec, wrapRows, true, readouts);
    // Maps too narrow for the readouts at the smallest size: no room is kept for them (a note says so).
    if (readouts && widest(fontOf(spec.style.minimumTickPixels), allReadouts(spec)) >
                        std::floor(candidate.side) + Spacing(spec.style).gap - 1.0)
      candidate = plan(spec, wrapRows, true, false);
    // Groups too short for even the smallest header: no room is kept for the headers (a note names the rows).
    const QFont smallest = fontOf(spec.style.minimumTickPixels, true);
    QStringList groupHeaders;
    for (const FigureSpec::Group& group : spec.groups) groupHeaders << group.header;
    const double groupHeight = wrapRows * candidate.side + (wrapRows - 1) * Spacing(spec.style).gap;
    if (widest(smallest, groupHeaders) > groupHeight)
      candidate = plan(spec, wrapRows, false, candidate.readouts);
    if (candidate.side > best.side + 1e-9) best = candidate;
  }
  if (best.side < 1.0)
    throw Error(QStringLiteral("the page of %1 \u00d7 %2 is too small for %3 maps")
                    .arg(spec.page.width())
                    .arg(spec.page.height())
                    .arg(heads * static_cast<int>(spec.groups.size()))
                    .toStdString());
  FigureLayout layout;
  layout.place(spec, best);
  return layout;
}

void FigureLayout::place(const FigureSpec& spec, const Candidate& chosen) {
  const Spacing space(spec.style);
  m_wrapRows = chosen.wrapRows;
  m_columns = chosen.columns;
  // Whole units: cell edges and the hatch fall on pixel boundaries, so they stay sharp.
  m_side = std::floor(chosen.side);
  m_labelStep = chosen.labels.step;
  m_labelPixels = chosen.labels.pixels;
  m_keysVertical = chosen.labels.keysVertical;
  const int heads = static_cast<int>(spec.columnHeaders.size());
  const int groups = static_cast<int>(spec.groups.size());
  const QFont header = fontOf(spec.style.headerPixels, true), note = fontOf(spec.style.notePixels);
  const double headerBand = heightOf(header) + 2.0;
  const double noteHeight = heightOf(note);
  QStringList ticks;
  for (const FigureSpec::Scale& scale : spec.scales) ticks << scale.ticks;
  const double tickWidth = widest(note, ticks);
  const double scaleBand =
      spec.scales.empty() ? 0.0 : 2.0 * space.gap + space.bar + 3.0 + tickWidth + 3.0 + noteHeight;
  const double rowHeaderBand =
      chosen.rowHeaders ? (heightOf(header) + space.gap) * (spec.scaleHeaders ? 2 : 1) : 0.0;
  m_hatchSpacing = std::max(2.0, spec.style.tickPixels * 7.0 / 12.0);  // the window's 7 at 12 px labels
  const int noteLines = static_cast<int>(spec.notes.size()) + (spec.maskedKey ? 1 : 0) + 1 +
                        (chosen.labels.step == 1 || !spec.tokenAxes ? 0 : 1);

  // The whole figure centred on the page.
  const double gridWidth = m_columns * m_side + (m_columns - 1) * space.gap;
  const double usedWidth =
      2.0 * space.margin + rowHeaderBand + chosen.labels.queryBand + gridWidth + scaleBand;
  const double readoutBand = readoutBandOf(spec.style, chosen.readouts);
  const double gridHeight = groups * m_wrapRows * (m_side + readoutBand) +
                            groups * (m_wrapRows - 1) * space.gap + (groups - 1) * space.groupGap +
                            (m_wrapRows > 1 ? groups * m_wrapRows : 1) * headerBand;
  const double usedHeight =
      2.0 * space.margin + gridHeight + chosen.labels.keyBand + noteLines * (noteHeight + 2.0);
  const double dx = std::max(0.0, (spec.page.width() - usedWidth) / 2.0);
  const double dy = std::max(0.0, (spec.page.height() - usedHeight) / 2.0);
  const double left = dx + space.margin + rowHeaderBand + chosen.labels.queryBand;

  // Maps.
  m_maps.assign(static_cast<std::size_t>(groups), std::vector<QRectF>(static_cast<std::size_t>(heads)));
  std::vector<std::vector<double>> rowTops(static_cast<std::size_t>(groups));
  double y = dy + space.margin + headerBand;
  for (int group = 0; group < groups; ++group) {
    for (int row = 0; row < m_wrapRows; ++row) {
      if (group > 0 || row > 0)
        y += (m_wrapRows > 1 ? headerBand : 0.0) + (row == 0 ? space.groupGap : space.gap);
      y += readoutBand;
      rowTops[static_cast<std::size_t>(group)].push_back(std::round(y));
      y += m_side;
    }
    for (int head = 0; head < heads; ++head)
      m_maps[static_cast<std::size_t>(group)][static_cast<std::size_t>(head)] =
          QRectF(std::round(left + (head % m_columns) * (m_side + space.gap)),
                 rowTops[static_cast<std::size_t>(group)][static_cast<std::size_t>(head / m_columns)], m_side,
                 m_side);
  }
  const double gridBottom = y;
  const double gridRight = left + gridWidth;

  // Column headers: the long names when every one fits over its map, else smaller, else the short names.
  QFont headerFont;
  const QStringList* names = nullptr;
  for (const QStringList* candidate : {&spec.columnHeaders, &spec.shortColumnHeaders}) {
    for (int pixels = spec.style.headerPixels; pixels >= spec.style.minimumTickPixels && !names; --pixels) {
      const QFont font = fontOf(pixels, true);
      if (widest(font, *candidate) <= m_side + space.gap - 1.0) {
        headerFont = font;
        names = candidate;
      }
    }
    if (names) break;
  }
  QStringList lines = spec.notes;
  if (names) {
    for (int group = 0; group < groups; ++group)
      for (int head = 0; head < heads; ++head) {
        if (m_wrapRows == 1 && group > 0) break;
        const QRectF map = mapRect(group, head);
        const QString& text = (*names)[head];
        const double width = widthOf(headerFont, text), height = heightOf(headerFont);
        m_texts.push_back(
            {FigureTextRole::columnHeader,
             QRectF(map.center().x() - width / 2.0, map.top() - readoutBand - 1.0 - height, width, height),
             text, headerFont, false, Qt::AlignCenter});
      }
  } else {
    lines << QStringLiteral("columns, left to right: ") + spec.columnHeaders.join(QStringLiteral(", "));
  }

  // Readouts: the largest size at which every one fits over its map (the smallest always does: see compute).
  if (chosen.readouts) {
    const QStringList all = allReadouts(spec);
    for (int pixels = readoutPixelsOf(spec.style); pixels >= spec.style.minimumTickPixels; --pixels)
      if (widest(fontOf(pixels), all) <= m_side + space.gap - 1.0) {
        m_readoutPixels = pixels;
        break;
      }
    const QFont font = fontOf(m_readoutPixels);
    const double height = heightOf(font);
    for (int group = 0; group < groups && m_readoutPixels > 0; ++group)
      for (int head = 0; head < heads; ++head) {
        const QStringList& texts = spec.readouts[static_cast<std::size_t>(group)];
        if (head >= texts.size() || texts[head].isEmpty()) continue;
        const QRectF map = mapRect(group, head);
        const double width = widthOf(font, texts[head]);
        m_texts.push_back({FigureTextRole::readout,
                           QRectF(map.center().x() - width / 2.0, map.top() - 1.0 - height, width, height),
                           texts[head], font, false, Qt::AlignCenter});
      }
  }
  // First of what was left out: the line is elided to the page's width, and the column list can be long.
  if (hasReadouts(spec) && m_readoutPixels == 0)
    lines.insert(spec.notes.size(), QStringLiteral("statistics left off: the maps are too narrow"));

  // Row headers, read bottom to top left of each group (and of each quantity's block of groups).
  const double groupHeaderLeft = dx + space.margin + (spec.scaleHeaders ? heightOf(header) + space.gap : 0.0);
  QStringList groupHeaders;
  std::vector<QPointF> groupSpans;  // (top, bottom)
  for (int group = 0; group < groups; ++group) {
    groupHeaders << spec.groups[static_cast<std::size_t>(group)].header;
    groupSpans.emplace_back(mapRect(group, 0).top(),
                            rowTops[static_cast<std::size_t>(group)].back() + m_side);
  }
  bool rowHeadersCut = !chosen.rowHeaders || !addRowHeaders(spec, groupHeaders, groupSpans, groupHeaderLeft);
  if (chosen.rowHeaders && spec.scaleHeaders) {
    QStringList scaleHeaders;
    std::vector<QPointF> scaleSpans;
    for (int scale = 0; scale < static_cast<int>(spec.scales.size()); ++scale) {
      double top = -1.0, bottom = -1.0;
      for (int group = 0; group < groups; ++group) {
        if (spec.groups[static_cast<std::size_t>(group)].scale != scale) continue;
        if (top < 0.0) top = groupSpans[static_cast<std::size_t>(group)].x();
        bottom = groupSpans[static_cast<std::size_t>(group)].y();
      }
      if (top < 0.0) continue;
      scaleHeaders << spec.scales[static_cast<std::size_t>(scale)].header;
      scaleSpans.emplace_back(top, bottom);
    }
    rowHeadersCut = !addRowHeaders(spec, scaleHeaders, scaleSpans, dx + space.margin) || rowHeadersCut;
  }
  if (rowHeadersCut) {
    // "rows: raw scores: none, causal; weights: none, causal", each quantity named once.
    QStringList blocks;
    int shownScale = -1;
    for (const FigureSpec::Group& group : spec.groups) {
      if (blocks.isEmpty() || group.scale != shownScale) {
        shownScale = group.scale;
        blocks << (spec.scaleHeaders
                       ? spec.scales[static_cast<std::size_t>(group.scale)].header + QStringLiteral(": ")
                       : QString()) +
                      group.header;
      } else {
        blocks.back() += QStringLiteral(", ") + group.header;
      }
    }
    lines << QStringLiteral("rows: ") + blocks.join(QStringLiteral("; "));
  }

  QString labelNote;
  // Token labels: queries left of the first column of every grid row, keys under the bottom row.
  if (m_labelStep > 0) {
    const QFont font = fontOf(m_labelPixels);
    for (int group = 0; group < groups; ++group)
      for (int row = 0; row < m_wrapRows; ++row)
        addTokenLabels(spec, mapRect(group, row * m_columns), true, font);
    for (int head = (m_wrapRows - 1) * m_columns; head < heads; ++head)
      addTokenLabels(spec, mapRect(groups - 1, head), false, font);
    if (m_labelStep > 1)
      labelNote = QStringLiteral("token labels: one token in %1, and the first and last").arg(m_labelStep);
  } else if (spec.tokenAxes) {
    labelNote = QStringLiteral("token labels left off: the cells are smaller than the smallest label font");
  }

  // One colour bar per scale, beside its groups, with its extremes and middle and its name.
  for (int scale = 0; scale < static_cast<int>(spec.scales.size()); ++scale) {
    double top = -1.0, bottom = -1.0;
    for (int group = 0; group < groups; ++group) {
      if (spec.groups[static_cast<std::size_t>(group)].scale != scale) continue;
      if (top < 0.0) top = mapRect(group, 0).top();
      bottom = rowTops[static_cast<std::size_t>(group)].back() + m_side;
    }
    if (top < 0.0) {
      m_bars.emplace_back();
      continue;
    }
    const QRectF bar(gridRight + 2.0 * space.gap, top, space.bar, bottom - top);
    m_bars.push_back(bar);
    const FigureSpec::Scale& spec_ = spec.scales[static_cast<std::size_t>(scale)];
    QStringList shown;
    std::vector<double> centres;
    if (spec_.ticks.size() == 3 && bar.height() >= 3.0 * noteHeight + 4.0) {
      shown = spec_.ticks;
      centres = {top + noteHeight / 2.0, bar.center().y(), bottom - noteHeight / 2.0};
    } else if (!spec_.ticks.isEmpty() && bar.height() >= 2.0 * noteHeight + 2.0) {
      shown = {spec_.ticks.front(), spec_.ticks.back()};
      centres = {top + noteHeight / 2.0, bottom - noteHeight / 2.0};
    }
    for (int i = 0; i < shown.size(); ++i)
      m_texts.push_back({FigureTextRole::scaleTick,
                         QRectF(bar.right() + 3.0, centres[static_cast<std::size_t>(i)] - noteHeight / 2.0,
                                widthOf(note, shown[i]), noteHeight),
                         shown[i], note, false, Qt::AlignLeft | Qt::AlignVCenter});
    // Left off when it does not fit: the row headers name the quantity too.
    const QString& label = spec_.label;
    if (widthOf(note, label) <= bar.height()) {
      const double length = widthOf(note, label);
      m_texts.push_back(
          {FigureTextRole::scaleLabel,
           QRectF(bar.right() + 3.0 + tickWidth + 3.0, bar.center().y() - length / 2.0, noteHeight, length),
           label, note, true, Qt::AlignCenter});
    }
  }

  // Notes under the key labels, each shortened to the page's width; the masked-cell key first.
  double noteTop = gridBottom + chosen.labels.keyBand + 2.0;
  const double noteLeft = space.margin;
  const double noteWidth = spec.page.width() - 2.0 * space.margin;
  if (spec.maskedKey) {
    m_swatch = QRectF(noteLeft, noteTop + 1.0, noteHeight - 2.0, noteHeight - 2.0);
    const QString text = QFontMetricsF(note).elidedText(
        QStringLiteral("masked: the key is hidden from the query (weight exactly 0)"), Qt::ElideRight,
        noteWidth - noteHeight - 2.0);
    m_texts.push_back({FigureTextRole::note,
                       QRectF(noteLeft + noteHeight + 2.0, noteTop, widthOf(note, text), noteHeight), text,
                       note, false, Qt::AlignLeft | Qt::AlignVCenter});
    noteTop += noteHeight + 2.0;
  }
  // What the layout had to leave out goes on one line, the one it reserves.
  QStringList shown = spec.notes;
  if (!labelNote.isEmpty()) shown << labelNote;
  if (lines.size() > spec.notes.size())
    shown << lines.mid(spec.notes.size()).join(QStringLiteral(" \u00b7 "));
  for (const QString& line : shown) {
    const QString text = QFontMetricsF(note).elidedText(line, Qt::ElideRight, noteWidth);
    if (text.isEmpty()) continue;
    m_texts.push_back({FigureTextRole::note, QRectF(noteLeft, noteTop, widthOf(note, text), noteHeight), text,
                       note, false, Qt::AlignLeft | Qt::AlignVCenter});
    noteTop += noteHeight + 2.0;
  }
}

bool FigureLayout::addRowHeaders(const FigureSpec& spec, const QStringList& headers,
                                 const std::vector<QPointF>& spans, double left) {
  for (int pixels = spec.style.headerPixels; pixels >= spec.style.minimumTickPixels; --pixels) {
    const QFont font = fontOf(pixels, true);
    bool fits = true;
    for (int i = 0; i < headers.size() && fits; ++i)
      fits = widthOf(font, headers[i]) <=
             spans[static_cast<std::size_t>(i)].y() - spans[static_cast<std::size_t>(i)].x();
    if (!fits) continue;
    for (int i = 0; i < headers.size(); ++i) {
      const QPointF span = spans[static_cast<std::size_t>(i)];
      const double length = widthOf(font, headers[i]);
      m_texts.push_back({FigureTextRole::rowHeader,
                         QRectF(left, (span.x() + span.y() - length) / 2.0, heightOf(font), length),
                         headers[i], font, true, Qt::AlignCenter});
    }
    return true;
  }
  return false;
}

void FigureLayout::addTokenLabels(const FigureSpec& spec, const QRectF& map, bool queries,
                                  const QFont& font) {
  const int n = static_cast<int>(spec.tokens.size());
  const double cell = m_side / n, height = heightOf(font);
  const double pad = Spacing(spec.style).labelPad;
  const bool vertical = !queries && m_keysVertical;
  // The label of token i, centred on its cell but kept within the map's side.
  const auto rectOf = [&](int i) {
    const QString& text = spec.tokens[i];
    const double width = widthOf(font, text);
    const double centre = (queries ? map.top() : map.left()) + (i + 0.5) * cell;
    const double lowest = queries ? map.top() : map.left(), highest = queries ? map.bottom() : map.right();
    const double across = queries || vertical ? height : width;
    const double start = std::clamp(centre - across / 2.0, lowest, std::max(lowest, highest - across));
    if (queries) return QRectF(map.left() - pad - width, start, width, height);
    return vertical ? QRectF(start, map.bottom() + pad, height, width)
                    : QRectF(start, map.bottom() + pad, width, height);
  };
  const auto before = [&](const QRectF& a, const QRectF& b) {
    return queries ? a.bottom() <= b.top() : a.right() <= b.left();
  };
  std::vector<std::pair<int, QRectF>> shown;
  for (int i = 0; i < n - 1; i += m_labelStep) {
    const QRectF rect = rectOf(i);
    if (shown.empty() || before(shown.back().second, rect)) shown.emplace_back(i, rect);
  }
  const QRectF last = rectOf(n - 1);
  while (!shown.empty() && !before(shown.back().second, last)) shown.pop_back();
  shown.emplace_back(n - 1, last);
  for (const auto& [token, rect] : shown)
    m_texts.push_back({queries ? FigureTextRole::queryLabel : FigureTextRole::keyLabel, rect,
                       spec.tokens[token], font, vertical,
                       queries ? Qt::AlignRight | Qt::AlignVCenter : Qt::AlignCenter});
}

}  // namespace attnscope::ui

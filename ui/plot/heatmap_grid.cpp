#include "plot/heatmap_grid.hpp"

#include <QHBoxLayout>
#include <QKeyEvent>
#include <QScrollArea>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <set>

#include "text.hpp"

namespace attnscope::ui {
HeatmapGrid::HeatmapGrid(QWidget* parent)
    : QWidget(parent),
      m_plot(new HeatmapPlot),
      m_banner(new QLabel),
      m_rangeHint(new QWidget),
      m_rangeHintText(new QLabel),
      m_rangeHintButton(new QPushButton(tr("One range per map"))),
      m_hint(new QLabel),
      m_scroll(new QScrollArea),
      m_stack(new QStackedWidget),
      m_figure(new FigureView),
      m_compare(new ComparePlot),
      m_compareScroll(new QScrollArea),
      m_fitAction(new QAction(tr("&Fit All Heads"), this)) {
  m_banner->setObjectName(QStringLiteral("problemBanner"));
  m_banner->setWordWrap(true);
  m_banner->setTextFormat(Qt::PlainText);
  m_banner->setStyleSheet(
      QStringLiteral("QLabel#problemBanner { background: #fff4e5; color: #663c00; border: 1px solid #ffb74d; "
                     "border-radius: 4px;"
                     " padding: 6px 10px; }"));
  m_banner->hide();

  // Maps that a shared colour range leaves flat: a long text's weights (about 1/n) beside a causal map whose
  // first row is 1, say. The other choice is one click away.
  m_rangeHint->setObjectName(QStringLiteral("rangeHint"));
  m_rangeHint->setAttribute(Qt::WA_StyledBackground);
  m_rangeHint->setStyleSheet(QStringLiteral(
      "QWidget#rangeHint { background: #e8f1fb; border: 1px solid #90b8e0; border-radius: 4px; }"
      " QLabel { color: #1a3a5c; }"));
  m_rangeHintText->setWordWrap(true);
  m_rangeHintText->setMinimumWidth(1);
  m_rangeHintButton->setObjectName(QStringLiteral("perMapRangeButton"));
  m_rangeHintButton->setToolTip(
      tr("Display \u25b8 Colour range: one per map, each map spanning its own bar"));
  auto* hintLayout = new QHBoxLayout(m_rangeHint);
  hintLayout->setContentsMargins(10, 4, 6, 4);
  hintLayout->addWidget(m_rangeHintText, 1);
  hintLayout->addWidget(m_rangeHintButton);
  m_rangeHint->hide();
  connect(m_rangeHintButton, &QPushButton::clicked, this, [this] {
    if (!m_model) return;
    ViewSettings settings = m_model->settings();
    settings.display.sharedRange = false;
    m_model->setSettings(settings);
  });
  connect(m_plot, &HeatmapPlot::refined, this, &HeatmapGrid::updateRangeHint);

  m_hint->setAlignment(Qt::AlignCenter);
  m_hint->setWordWrap(true);
  m_hint->setStyleSheet(QStringLiteral("color: palette(mid); font-size: 15px; padding: 40px;"));

  m_plot->setMouseTracking(true);
  m_plot->setFocusPolicy(Qt::StrongFocus);  // Tab reaches the maps; ↑ ↓ then move the query
  m_plot->installEventFilter(this);
  m_plot->setToolTipDuration(-1);
  connect(m_plot, &QCustomPlot::mouseMove, this, &HeatmapGrid::onMouseMove);
  connect(m_plot, &QCustomPlot::mousePress, this, &HeatmapGrid::onMousePress);

  // Many heads (GPT-2 has 12, 13 with a summary) need more width than the window has: the maps keep a
  // readable size and scroll instead of widening the window past the screen.
  m_scroll->setObjectName(QStringLiteral("heatmapScroll"));
  m_scroll->setWidget(m_plot);
  m_scroll->setWidgetResizable(true);
  m_scroll->setFrameShape(QFrame::NoFrame);
  m_scroll->viewport()->installEventFilter(this);
  m_stack->addWidget(m_scroll);
  m_stack->addWidget(m_figure);
  m_stack->addWidget(m_hint);
  m_compareScroll->setObjectName(QStringLiteral("compareScroll"));
  m_compareScroll->setWidget(m_compare);
  m_compareScroll->setWidgetResizable(true);
  m_compareScroll->setFrameShape(QFrame::NoFrame);
  m_stack->addWidget(m_compareScroll);
  connect(m_compare, &ComparePlot::cellHovered, this, &HeatmapGrid::cellHovered);
  connect(m_compare, &ComparePlot::cellClicked, this, [this](int maskRow, int head, int query) {
    emit cellClicked(MapKey{maskRow, head, Quantity::weights}, query);
  });

  // Every head in the window at once, laid out as the export figure is.
  connect(m_figure, &FigureView::cellHovered, this,
          [this](const MapKey& map, int query, int key, const QPoint& globalPosition) {
            emit cellHovered(query, key);
            if (query >= 0)
              QToolTip::showText(globalPosition + QPoint(14, 10), toolTipFor(map, query, key), m_figure);
            else
              QToolTip::hideText();
          });
  connect(m_figure, &FigureView::cellClicked, this, &HeatmapGrid::cellClicked);
  connect(m_figure, &FigureView::keyProbed, this, &HeatmapGrid::keyProbed);
  connect(m_figure, &FigureView::queryStepped, this, &HeatmapGrid::queryStepped);
  m_fitAction->setObjectName(QStringLiteral("fitAllHeadsAction"));
  m_fitAction->setCheckable(true);
  m_fitAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_0));
  m_fitAction->setToolTip(
      tr("Every head fitted into the window (as the exported figure), or readable maps "
         "that scroll (Ctrl+0)"));
  addAction(m_fitAction);  // the key works without a menu too
  connect(m_fitAction, &QAction::toggled, this, [this] {
    if (!isShowingHint()) showMaps();  // the hint stays up in either mode
  });
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(4);
  layout->addWidget(m_banner);
  layout->addWidget(m_rangeHint);
  layout->addWidget(m_stack, 1);
  showHint(tr("Computing the heatmaps\u2026"));
}

void HeatmapGrid::setModel(ScopeModel* model) {
  m_model = model;
  connect(model, &ScopeModel::snapshotChanged, this,
          [this](const SnapshotPointer& snapshot) { setContent(snapshot, m_model->display()); });
  connect(model, &ScopeModel::comparisonChanged, this,
          [this](const ComparisonPointer& comparison) { setComparison(comparison, m_model->display()); });
  connect(model, &ScopeModel::displayChanged, this, [this](const DisplayOptions& display) {
    setComparison(m_model->comparison(), display);
    setContent(m_model->snapshot(), display);
    setSelection(m_model->selection());
  });
  connect(model, &ScopeModel::hoverChanged, this, &HeatmapGrid::setHover);
  connect(model, &ScopeModel::selectionChanged, this, &HeatmapGrid::setSelection);
  connect(this, &HeatmapGrid::cellHovered, model, &ScopeModel::setHover);
  connect(this, &HeatmapGrid::cellClicked, model, [model](const MapKey& map, int query) {
    model->setSelection(QuerySelection{query, map.maskRow, map.head});
  });
  connect(this, &HeatmapGrid::queryStepped, model, &ScopeModel::stepQuery);
  connect(this, &HeatmapGrid::keyProbed, model, &ScopeModel::setProbeKey);
}

void HeatmapGrid::setContent(const SnapshotPointer& snapshot, const DisplayOptions& options) {
  m_plot->setContent(snapshot, options);
  if (!snapshot)
    showHint(tr("Type a sentence above to see its attention heatmaps.\n\nEvery edit recomputes them."));
  else if (m_plot->mapCount() == 0)
    showHint(tr(
        "Nothing to show: tick at least one quantity under Display (raw scores, scaled scores, weights)."));
  else
    showMaps();
  m_figure->setContent(snapshot, options);
  fitPlotWidth();
  updateRangeHint();
}

bool HeatmapGrid::showsComparison() const {
  return m_model && m_model->comparison() && m_model->comparison()->b;
}

void HeatmapGrid::setComparison(const ComparisonPointer& comparison, const DisplayOptions& options) {
  m_compare->setContent(comparison, options);
  m_compare->setMinimumSize(m_compare->naturalSize());
  if (!isShowingHint() || showsComparison()) showMaps();
  updateRangeHint();
}

void HeatmapGrid::updateRangeHint() {
  const int flat = m_plot->displayOptions().sharedRange && m_plot->snapshot() && !showsComparison()
                       ? static_cast<int>(m_plot->flatMaps().size())
                       : 0;
  // One short line: in a narrow window a wrapped sentence pushed the maps out of sight.
  if (flat > 0) {
    m_rangeHintText->setText(flat == 1 ? tr("1 map looks flat.") : tr("%1 maps look flat.").arg(flat));
    m_rangeHintText->setToolTip(
        tr("With one colour range shared by all maps, the weights of each of these differ by a factor of two "
           "or more but use under a quarter of the colour bar."));
  }
  m_rangeHint->setVisible(flat > 0);
}

void HeatmapGrid::setFitAllHeads(bool fit) {
  m_fitAction->setChecked(fit);
}

QWidget* HeatmapGrid::mapsWidget() const {
  if (showsComparison()) return m_compare;
  return fitsAllHeads() ? static_cast<QWidget*>(m_figure) : m_plot;
}

void HeatmapGrid::showMaps() {
  QWidget* page = showsComparison() ? m_compareScroll
                  : fitsAllHeads()  ? static_cast<QWidget*>(m_figure)
                                    : m_scroll;
  if (m_stack->currentWidget() == page) return;
  const bool focused = m_plot->hasFocus() || m_figure->hasFocus();
  m_stack->setCurrentWidget(page);
  if (focused) mapsWidget()->setFocus(Qt::OtherFocusReason);
}

void HeatmapGrid::fitPlotWidth() {
  // Each map at least 3/5 as wide as its row is tall; when the heads do not fit side by side that way, the
  // plot grows wider than the view and scrolls, rather than squeezing every map into a tall strip.
  std::set<int> heads;
  std::set<std::pair<int, int>> rows;
  for (int map = 0; map < m_plot->mapCount(); ++map) {
    const MapKey key = m_plot->mapKey(map);
    heads.insert(key.head);
    rows.insert({static_cast<int>(key.quantity), key.maskRow});
  }
  if (heads.empty()) {
    m_plot->setMinimumWidth(0);
    return;
  }
  constexpr int kLabels = 110;  // token labels and the title around each map
  constexpr int kScales = 100;  // colour bars and margins
  const int rowHeight = m_scroll->viewport()->height() / static_cast<int>(rows.size());
  const int side = std::clamp((rowHeight - kLabels) * 3 / 5, 120, 220);
  m_plot->setMinimumWidth(static_cast<int>(heads.size()) * (side + kLabels) + kScales);
}

void HeatmapGrid::showHint(const QString& text) {
  m_hint->setText(text);
  m_stack->setCurrentWidget(m_hint);
}

bool HeatmapGrid::isShowingHint() const {
  return m_stack->currentWidget() == m_hint;
}

QString HeatmapGrid::hint() const {
  return isShowingHint() ? m_hint->text() : QString();
}

void HeatmapGrid::setHover(int query, int key) {
  m_plot->setHover(query, key);
  m_figure->setHover(query, key);
}

void HeatmapGrid::setSelection(const QuerySelection& selection) {
  const MapKey explained{selection.maskRow, selection.head, Quantity::weights};
  m_plot->setSelection(selection.query, explained);
  m_figure->setSelection(selection.query, explained);
}

void HeatmapGrid::ensureMapVisible(int maskRow, int head) {
  if (fitsAllHeads()) return;  // every map is in view
  for (int map = 0; map < m_plot->mapCount(); ++map) {
    const MapKey key = m_plot->mapKey(map);
    if (key.maskRow != maskRow || key.head != head) continue;
    const QRect rect = m_plot->mapRect(map)->outerRect();
    m_scroll->ensureVisible(rect.center().x(), rect.center().y(), rect.width() / 2 + 8,
                            rect.height() / 2 + 8);
    return;
  }
}

void HeatmapGrid::showProblem(const QString& message) {
  if (m_plot->snapshot()) {
    m_banner->setText(tr("%1\nThe heatmaps below are from the last valid settings.").arg(message));
  } else {
    m_banner->setText(message);
    showHint(tr("No heatmaps yet: fix the setting marked in red."));
  }
  m_banner->show();
}

void HeatmapGrid::clearProblem() {
  m_banner->hide();
  m_banner->clear();
}

QString HeatmapGrid::problem() const {
  return m_banner->isHidden() ? QString() : m_banner->text();
}

QString HeatmapGrid::toolTipFor(int map, int query, int key) const {
  if (map < 0 || map >= m_plot->mapCount()) return {};
  return toolTipFor(m_plot->mapKey(map), query, key);
}

QString HeatmapGrid::toolTipFor(const MapKey& mapKey, int query, int key) const {
  const SnapshotPointer& snapshot = m_plot->snapshot();
  if (!snapshot || query < 0 || key < 0 || query >= snapshot->tokenCount() || key >= snapshot->tokenCount())
    return {};
  const auto token = [&snapshot](int index) {
    return displayToken(snapshot->tokenTexts.at(index), 24).toHtmlEscaped();
  };
  const auto value = [&](Quantity quantity) {
    return formatValue(snapshot->value(mapKey.maskRow, mapKey.head, quantity, query, key));
  };
  QString text = QStringLiteral(
                     "<b>%1</b> \u2192 <b>%2</b><br><span style='color:gray'>query %3, key %4 \u00b7 "
                     "%5 \u00b7 %6</span><table cellspacing='0' cellpadding='1'>")
                     .arg(token(query), token(key))
                     .arg(query + 1)
                     .arg(key + 1)
                     .arg(snapshot->headLabel(mapKey.head))
                     .arg(snapshot->maskLabel(mapKey.maskRow).toHtmlEscaped());
  const auto row = [&text](const QString& name, const QString& shown) {
    text += QStringLiteral("<tr><td>%1</td><td align='right'>&nbsp;&nbsp;%2</td></tr>").arg(name, shown);
  };
  row(tr("raw score q\u00b7k"), value(Quantity::rawScores));
  row(tr("scaled score"), value(Quantity::scaledScores));
  if (snapshot->isMasked(mapKey.maskRow, query, key)) {
    row(tr("weight"), tr("<i>masked</i> (0)"));
  } else {
    row(tr("weight"), value(Quantity::weights));
    if (snapshot->hasDropout()) row(tr("after dropout"), value(Quantity::dropoutWeights));
  }
  text += QStringLiteral("</table>");
  return text;
}

void HeatmapGrid::onMouseMove(QMouseEvent* event) {
  int map = -1, query = -1, key = -1;
  if (m_plot->cellAt(event->position(), &map, &query, &key)) {
    emit cellHovered(query, key);
    QToolTip::showText(event->globalPosition().toPoint() + QPoint(14, 10), toolTipFor(map, query, key),
                       m_plot);
  } else {
    emit cellHovered(-1, -1);
    const int readout = m_plot->readoutAt(event->position());
    if (readout >= 0)
      QToolTip::showText(event->globalPosition().toPoint() + QPoint(14, 10),
                         m_plot->mapReadoutToolTip(readout), m_plot);
    else
      QToolTip::hideText();
  }
}

void HeatmapGrid::onMousePress(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return;
  int map = -1, query = -1, key = -1;
  if (!m_plot->cellAt(event->position(), &map, &query, &key)) return;
  emit cellClicked(m_plot->mapKey(map), query);
  if (event->modifiers() & Qt::AltModifier) emit keyProbed(key);
}

bool HeatmapGrid::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_scroll->viewport() && event->type() == QEvent::Resize) {
    fitPlotWidth();
    m_plot->showMapsInView();
  }
  if (watched == m_plot) {
    if (event->type() == QEvent::Leave) {
      emit cellHovered(-1, -1);
      QToolTip::hideText();
    } else if (event->type() == QEvent::FocusIn || event->type() == QEvent::FocusOut) {
      // QCustomPlot draws no focus frame: the scroll area around the maps shows where the keys go.
      m_scroll->setStyleSheet(event->type() == QEvent::FocusIn
                                  ? QStringLiteral("QScrollArea { border: 2px solid palette(highlight); }")
                                  : QString());
    } else if (event->type() == QEvent::KeyPress) {
      const auto* key = static_cast<QKeyEvent*>(event);
      if (key->key() == Qt::Key_Up || key->key() == Qt::Key_Down) {
        emit queryStepped(key->key() == Qt::Key_Up ? -1 : 1);
        return true;
      }
    }
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace attnscope::ui

#include "panels/geometry_panel.hpp"

#include <QAction>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QMessageBox>
#include <QPushButton>
#include <QStackedWidget>
#include <QTimer>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <numeric>

#include "attnscope/error.hpp"
#include "export/exporter.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

// Above this many multiply-adds (n · head_dim², the covariance) head_geometry runs off the GUI thread: a few
// milliseconds at most on it.
constexpr double kInlineWork = 4.0e6;
// An export is the plot's size on screen, or this when it is hidden, and never narrower than the title.
const QSize kHiddenExportSize(640, 560);
const QSize kSmallestExport(480, 400);

struct GeometryResult {
  std::optional<HeadGeometry> geometry;
  QString error;
};

GeometryResult computeGeometry(const HeadResult& head) {
  try {
    return {head_geometry(head.queries, head.keys), {}};
  } catch (const Error& error) {
    return {std::nullopt, QString::fromUtf8(error.what())};
  }
}

QString percent(double share) {
  return QStringLiteral("%1\u00a0%").arg(share * 100.0, 0, 'f', share < 0.1 ? 1 : 0);
}

}  // namespace

GeometryPanel::GeometryPanel(QWidget* parent)
    : QWidget(parent),
      m_followSnapshot(new QTimer(this)),
      m_stack(new QStackedWidget),
      m_placeholder(new QLabel),
      m_heading(new QLabel),
      m_note(new QLabel),
      m_plot(new GeometryPlot),
      m_exportButton(new QPushButton(tr("Export\u2026"))) {
  m_pool.setMaxThreadCount(1);
  m_placeholder->setWordWrap(true);
  m_placeholder->setAlignment(Qt::AlignCenter);
  m_placeholder->setStyleSheet(QStringLiteral("color: palette(mid); padding: 20px;"));
  m_heading->setWordWrap(true);
  m_heading->setTextFormat(Qt::RichText);
  m_note->setWordWrap(true);
  m_note->setStyleSheet(QStringLiteral("color: palette(dark);"));

  connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
    QToolTip::showText(event->globalPosition().toPoint(), toolTipAt(event->position()), m_plot);
  });
  connect(m_plot, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) {
    const std::optional<GeometryPick> point = m_plot->pointAt(event->position());
    if (m_model && m_current && point && !point->key) m_model->selectQuery(point->index);
  });
  auto* exportAction = new QAction(tr("Export\u2026"), this);
  exportAction->setToolTip(tr("Save this plot as PNG, SVG or PDF"));
  connect(exportAction, &QAction::triggered, this, &GeometryPanel::exportDialog);
  m_plot->addAction(exportAction);
  m_plot->setContextMenuPolicy(Qt::ActionsContextMenu);
  m_exportButton->setToolTip(exportAction->toolTip());
  connect(m_exportButton, &QPushButton::clicked, this, &GeometryPanel::exportDialog);

  auto* content = new QWidget;
  auto* layout = new QVBoxLayout(content);
  layout->setContentsMargins(8, 8, 8, 8);
  layout->setSpacing(6);
  layout->addWidget(m_heading);
  layout->addWidget(m_plot, 1);
  auto* bottom = new QHBoxLayout;
  bottom->addWidget(m_note, 1);
  bottom->addWidget(m_exportButton, 0, Qt::AlignBottom);
  layout->addLayout(bottom);
  m_stack->addWidget(m_placeholder);
  m_stack->addWidget(content);
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  outer->addWidget(m_stack);
  setMinimumWidth(240);
  showPlaceholder(tr("Type a sentence to see its queries and keys."));
}

GeometryPanel::~GeometryPanel() {
  m_job.cancel();
  m_pool.waitForDone();
}

void GeometryPanel::setModel(ScopeModel* model) {
  m_model = model;
  m_followSnapshot->setSingleShot(true);
  m_followSnapshot->setInterval(0);
  // A dock tabbed behind another stays visible, moved out of the window: only its visible region tells.
  const auto follow = [this] {
    if (isVisible() && !visibleRegion().isEmpty())
      return setContent(m_model->snapshot(), m_model->selection());
    // Out of view (closed, or a tab behind another): let go of the snapshot, and catch up when shown.
    m_stale = true;
    m_job.cancel();
    setContent(nullptr, {});
  };
  connect(m_followSnapshot, &QTimer::timeout, this, follow);
  // The model announces the (clamped) selection right after a new snapshot: the heatmaps paint first.
  connect(model, &ScopeModel::snapshotChanged, this, [this] { m_snapshotArrived = true; });
  connect(model, &ScopeModel::selectionChanged, this, [this, follow] {
    if (m_snapshotArrived) {
      m_snapshotArrived = false;
      m_followSnapshot->start();
      return;
    }
    m_followSnapshot->stop();
    follow();
  });
  if (auto* dock = qobject_cast<QDockWidget*>(parentWidget()))
    connect(dock, &QDockWidget::visibilityChanged, this, [this](bool visible) {
      if (!visible || !m_stale) return;
      m_stale = false;
      setContent(m_model->snapshot(), m_model->selection());
    });
  follow();
}

void GeometryPanel::setContent(const SnapshotPointer& snapshot, const QuerySelection& selection) {
  const bool sameHead = snapshot == m_snapshot && selection.maskRow == m_selection.maskRow &&
                        selection.head == m_selection.head;
  m_snapshot = snapshot;
  m_selection = selection;
  if (!snapshot || snapshot->tokenCount() == 0) {
    m_job.cancel();
    m_current = false;
    m_plot->clearContent();
    return showPlaceholder(tr("Type a sentence to see its queries and keys."));
  }
  const bool inRange = selection.maskRow >= 0 && selection.maskRow < snapshot->maskCount() &&
                       selection.head >= 0 && selection.head < snapshot->headCount();
  if (!inRange || snapshot->isSummary(selection.head)) {
    m_job.cancel();
    m_current = false;
    m_plot->clearContent();
    if (!inRange) return showPlaceholder(tr("Click a map to see its head's queries and keys."));
    return showPlaceholder(
        tr("The %1 has no queries or keys of its own: pick one head (a map of the grid, or "
           "the Heads dock) to see its geometry.")
            .arg(snapshot->headLabel(selection.head)));
  }
  m_stack->setCurrentIndex(1);
  if (sameHead && m_current) return showHighlight();
  // Its job in flight shows the new selection when it lands.
  const bool computing = m_jobGeneration != 0 && m_jobGeneration == m_job.generation();
  if (!sameHead || !computing) requestGeometry();
}

void GeometryPanel::requestGeometry() {
  m_current = false;
  const HeadResult& head = m_snapshot->head(m_selection.maskRow, m_selection.head);
  const double work = double(head.queries.rows()) * double(head.queries.cols()) * double(head.queries.cols());
  if (work <= kInlineWork) {
    m_job.cancel();
    const GeometryResult result = computeGeometry(head);
    return result.geometry ? showGeometry(*result.geometry) : showPlaceholder(result.error);
  }
  m_heading->setText(tr("<b>%1</b> \u00b7 computing the principal components of %2 tokens\u2026")
                         .arg(m_snapshot->headLabel(m_selection.head))
                         .arg(m_snapshot->tokenCount()));
  m_job.start(
      &m_pool, this,
      [snapshot = m_snapshot, selection = m_selection](const CancelToken& cancel) {
        if (cancel.cancelled()) return GeometryResult{};  // superseded while it waited for the thread
        return computeGeometry(snapshot->head(selection.maskRow, selection.head));
      },
      [this](const GeometryResult& result) {
        m_jobGeneration = 0;
        if (result.geometry)
          showGeometry(*result.geometry);
        else if (!result.error.isEmpty())
          showPlaceholder(result.error);
      });
  m_jobGeneration = m_job.generation();
}

void GeometryPanel::showGeometry(const HeadGeometry& geometry) {
  GeometryPoints points;
  points.queries = geometry.queries_2d;
  points.keys = geometry.keys_2d;
  points.tokens = m_snapshot->tokenTexts;
  if (geometry.explained) {
    points.xLabel = tr("PC1 (%1 of the variance)").arg(percent((*geometry.explained)[0]));
    points.yLabel = tr("PC2 (%1)").arg(percent((*geometry.explained)[1]));
  } else {
    points.xLabel = tr("dim 1");
    points.yLabel = tr("dim 2");
  }
  m_plot->setPoints(std::move(points));
  m_current = true;
  showHighlight();
}

void GeometryPanel::showHighlight() {
  const AttentionSnapshot& snapshot = *m_snapshot;
  const int n = snapshot.tokenCount();
  const int query = m_selection.query >= 0 && m_selection.query < n ? m_selection.query : -1;
  const HeadResult& head = snapshot.head(m_selection.maskRow, m_selection.head);
  const int headDim = static_cast<int>(head.queries.cols());
  QString heading = tr("<b>%1</b> \u00b7 %2 mask \u00b7 head_dim %3")
                        .arg(snapshot.headLabel(m_selection.head))
                        .arg(snapshot.maskLabel(m_selection.maskRow).toHtmlEscaped())
                        .arg(headDim);
  GeometryHighlight highlight;
  highlight.query = query;
  int visible = 0;
  if (query >= 0) {
    heading += tr("<br>Query %1 \u00b7 \u201c%2\u201d")
                   .arg(query + 1)
                   .arg(displayToken(snapshot.tokenTexts.at(query), 30).toHtmlEscaped());
    Matrix scratch;
    Eigen::Index stride = 0;
    const float* weights = snapshot.values(m_selection.maskRow, m_selection.head, Quantity::weights, query, 1,
                                           0, n, scratch, &stride);
    for (int key = 0; key < n; ++key)
      if (!snapshot.isMasked(m_selection.maskRow, query, key)) highlight.lines.push_back({key, weights[key]});
    visible = static_cast<int>(highlight.lines.size());
    // The heaviest lines last, drawn over the lighter ones.
    const auto lighter = [](const GeometryHighlight::Line& a, const GeometryHighlight::Line& b) {
      return a.weight < b.weight || (a.weight == b.weight && a.key > b.key);
    };
    std::sort(highlight.lines.begin(), highlight.lines.end(), lighter);
    if (visible > kAllLines)
      highlight.lines.erase(highlight.lines.begin(), highlight.lines.end() - kTopLines);
  }
  if (n <= kAllLabels) {
    highlight.labelled.resize(n);
    std::iota(highlight.labelled.begin(), highlight.labelled.end(), 0);
  } else {
    if (query >= 0) highlight.labelled.push_back(query);
    const int top = std::min<int>(kTopLabels, static_cast<int>(highlight.lines.size()));
    for (auto line = highlight.lines.rbegin(); line != highlight.lines.rbegin() + top; ++line)
      if (line->key != query) highlight.labelled.push_back(line->key);
  }
  m_heading->setText(heading);
  m_title = QStringLiteral("%1 \u00b7 %2 mask \u00b7 head_dim %3")
                .arg(snapshot.headLabel(m_selection.head), snapshot.maskLabel(m_selection.maskRow))
                .arg(headDim);
  if (query >= 0)
    m_title += tr("\nquery %1 \u201c%2\u201d").arg(query + 1).arg(snapshot.tokenTexts.at(query));

  QStringList note;
  note << (headDim == 2 ? tr("The 2-D query and key vectors themselves.")
                        : tr("Queries and keys centred together and projected on their first two principal "
                             "components: q\u00b7k is not the plotted dot product."));
  const int lines = static_cast<int>(highlight.lines.size());
  if (query >= 0)
    note << (lines < visible ? tr("Lines to the %1 heaviest of %2 visible keys").arg(lines).arg(visible)
                             : tr("Lines to the %1 visible keys").arg(visible))
         << tr("(width and opacity: the weight; hover a key for q\u00b7k, the scaled score and the weight).");
  if (n > kAllLabels) note << tr("Labels on the query and its heaviest keys only.");
  m_note->setText(note.join(QLatin1Char(' ')));
  m_plot->setHighlight(std::move(highlight));
}

void GeometryPanel::showPlaceholder(const QString& text) {
  m_placeholder->setText(text);
  m_stack->setCurrentWidget(m_placeholder);
}

QString GeometryPanel::toolTipAt(QPointF position) const {
  if (!m_current || !m_snapshot) return {};
  const std::optional<GeometryPick> point = m_plot->pointAt(position);
  if (!point) return {};
  const AttentionSnapshot& snapshot = *m_snapshot;
  const auto token = [&](int index) {
    return displayToken(snapshot.tokenTexts.at(index), 30).toHtmlEscaped();
  };
  if (!point->key)
    return tr("query %1 \u201c%2\u201d (click to select it)").arg(point->index + 1).arg(token(point->index));
  const int query = m_selection.query;
  const QString key = tr("key %1 \u201c%2\u201d").arg(point->index + 1).arg(token(point->index));
  if (query < 0 || query >= snapshot.tokenCount()) return key;
  const auto value = [&](Quantity quantity) {
    return formatValue(snapshot.value(m_selection.maskRow, m_selection.head, quantity, query, point->index));
  };
  const float scale = snapshot.head(m_selection.maskRow, m_selection.head).scale;
  QString text = tr("%1, for query %2 \u201c%3\u201d<br>q\u00b7k = %4<br>scaled score = %5 (\u00d7 %6)")
                     .arg(key)
                     .arg(query + 1)
                     .arg(token(query))
                     .arg(value(Quantity::rawScores))
                     .arg(value(Quantity::scaledScores))
                     .arg(QString::number(scale, 'g', 4));
  if (snapshot.isMasked(m_selection.maskRow, query, point->index))
    return text + tr("<br>masked: weight exactly 0");
  return text + tr("<br>weight = %1").arg(value(Quantity::weights));
}

bool GeometryPanel::exportImage(const QString& path, QString* error) const {
  try {
    if (!m_current) throw Error("there is no geometry to export");
    RecordedImage image;
    const ImageFormat format = Exporter::formatFor(path);
    const QSize size = m_plot->isVisible() ? m_plot->size().expandedTo(kSmallestExport) : kHiddenExportSize;
    image.request = ImageRequest(format, size, format == ImageFormat::png ? 2.0 : 1.0);
    image.picture = m_plot->record(size, m_title);
    Exporter::writeFile(path, Exporter::encode(image));
    return true;
  } catch (const Error& problem) {
    if (error) *error = QString::fromUtf8(problem.what());
    return false;
  }
}

void GeometryPanel::exportDialog() {
  QString path =
      QFileDialog::getSaveFileName(this, tr("Export the Geometry"), QStringLiteral("geometry.png"),
                                   tr("PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"));
  if (path.isEmpty()) return;
  if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".png");
  QString error;
  if (exportImage(path, &error))
    emit statusMessage(tr("Wrote %1").arg(QDir::toNativeSeparators(path)));
  else
    QMessageBox::warning(this, tr("Export the Geometry"), error);
}

}  // namespace attnscope::ui

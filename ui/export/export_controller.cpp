#include "export/export_controller.hpp"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QDir>
#include <QEventLoop>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QProgressDialog>
#include <QStandardPaths>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>
#include <new>
#include <string_view>

#include "attnscope/atomic_file.hpp"
#include "export/export_dialog.hpp"
#include "plot/compare_plot.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

constexpr int kProgressDelayMs = 400;  // quick exports show no dialog

}  // namespace

struct ExportController::Job {
  SnapshotPointer snapshot;
  // While the grid shows Compare: the whole grid's image is the comparison's.
  ComparisonPointer comparison;
  DisplayOptions display;
  ImageRequest request;
  // Images: each map (or the grid) and its file; the worker writes them in this order.
  std::vector<std::pair<std::optional<MapKey>, QString>> images;
  QString dataPath;  // .csv or .json instead of images
  std::shared_ptr<std::vector<RecordedImage>> recorded = std::make_shared<std::vector<RecordedImage>>();
  std::shared_ptr<CancelToken> cancel = std::make_shared<CancelToken>();
  QString doneMessage;
  QString directory;  // remembered for the next dialog once written
};

struct ExportController::Outcome {
  bool written = false;
  bool cancelled = false;
  QString message;
};

ExportController::ExportController(ScopeModel* model, HeatmapPlot* windowPlot, QWidget* window)
    : QObject(window),
      m_model(model),
      m_windowPlot(windowPlot),
      m_window(window),
      m_imageAction(new QAction(tr("&Export Image\u2026"), this)),
      m_eachMapAction(new QAction(tr("Export Each &Map to a Folder\u2026"), this)),
      m_csvAction(new QAction(tr("Export Matrices as &CSV\u2026"), this)),
      m_jsonAction(new QAction(tr("Export Matrices as &JSON\u2026"), this)),
      m_copyAction(new QAction(tr("&Copy Image"), this)) {
  m_pool.setMaxThreadCount(1);
  m_imageAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
  connect(m_imageAction, &QAction::triggered, this, [this] { imageDialog(false); });
  connect(m_eachMapAction, &QAction::triggered, this, [this] { imageDialog(true); });
  connect(m_csvAction, &QAction::triggered, this, [this] { dataDialog(QStringLiteral("csv")); });
  connect(m_jsonAction, &QAction::triggered, this, [this] { dataDialog(QStringLiteral("json")); });
  m_copyAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
  connect(m_copyAction, &QAction::triggered, this, [this] { copyImage(); });
}

ExportController::~ExportController() {
  if (m_job) m_job->cancel->cancel();
  m_pool.waitForDone();
}

QString ExportController::directory() const {
  if (!m_lastDirectory.isEmpty()) return m_lastDirectory;
  const QString pictures = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
  return QFileInfo(pictures).isDir() ? pictures : QDir::homePath();
}

void ExportController::exportImage(const QString& path, const ImageRequest& request,
                                   std::optional<MapKey> only) {
  auto job = std::make_unique<Job>();
  job->request = request;
  job->images.emplace_back(only, path);
  job->doneMessage = tr("Exported %1.").arg(QDir::toNativeSeparators(path));
  begin(std::move(job));
}

void ExportController::exportEachMap(const QString& folder, const ImageRequest& request) {
  auto job = std::make_unique<Job>();
  job->request = request;
  try {
    for (const auto& [key, path] :
         Exporter::eachMapFiles(m_model->snapshot(), m_model->display(), request.format, folder))
      job->images.emplace_back(key, path);
  } catch (const Error& problem) {
    return refuse(toQString(problem.what()));
  }
  job->doneMessage = tr("Exported %1 to %2.")
                         .arg(counted(static_cast<int>(job->images.size()), tr("map"), tr("maps")),
                              QDir::toNativeSeparators(folder));
  begin(std::move(job));
}

void ExportController::exportData(const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (!m_model->snapshot()) return refuse(tr("there is nothing to export: the text is empty"));
  if (suffix != QLatin1String("csv") && suffix != QLatin1String("json"))
    return refuse(tr("cannot export to '%1': the name must end in .csv or .json").arg(path));
  auto job = std::make_unique<Job>();
  job->dataPath = path;
  job->doneMessage = tr("Exported %1.").arg(QDir::toNativeSeparators(path));
  begin(std::move(job));
}

void ExportController::begin(std::unique_ptr<Job> job) {
  if (m_job) return refuse(tr("another export is still being written"));
  job->snapshot = m_model->snapshot();
  job->display = m_model->display();
  if (m_model->comparison() && m_model->comparison()->b) job->comparison = m_model->comparison();
  m_job = std::move(job);
  const int steps = m_job->dataPath.isEmpty() ? 2 * static_cast<int>(m_job->images.size()) : 0;
  m_progress = new QProgressDialog(tr("Exporting\u2026"), tr("Cancel"), 0, steps, m_window);
  m_progress->setWindowTitle(tr("Export"));
  m_progress->setMinimumDuration(kProgressDelayMs);
  m_progress->setAutoClose(false);
  m_progress->setAutoReset(false);
  m_progress->setValue(0);
  connect(m_progress, &QProgressDialog::canceled, this, &ExportController::cancel);
  for (QAction* action : {m_imageAction, m_eachMapAction, m_csvAction, m_jsonAction})
    action->setEnabled(false);
  if (m_job->dataPath.isEmpty())
    QTimer::singleShot(0, this, &ExportController::recordNext);
  else
    writeInBackground();
}

void ExportController::refuse(const QString& reason) {
  m_lastWritten = false;
  m_lastMessage = reason;
  emit finished(false, reason);
}

void ExportController::cancel() {
  if (m_job) m_job->cancel->cancel();
}

// One image per event-loop turn: the plot that draws it is a widget, so this part stays on the GUI thread.
void ExportController::recordNext() {
  if (!m_job) return;
  if (m_job->cancel->cancelled()) return end(Outcome{false, true, {}});
  const std::size_t index = m_job->recorded->size();
  try {
    const std::optional<MapKey>& only = m_job->images[index].first;
    m_job->recorded->push_back(m_job->comparison && !only
                                   ? ComparePlot::record(m_job->comparison, m_job->display, m_job->request)
                                   : Exporter::record(m_job->snapshot, m_job->display, only, m_job->request));
  } catch (const Error& problem) {
    return end(Outcome{false, false, toQString(problem.what())});
  } catch (const std::bad_alloc&) {
    return end(Outcome{false, false, tr("not enough memory for the image")});
  }
  m_progress->setValue(static_cast<int>(index) + 1);
  if (m_job->recorded->size() < m_job->images.size())
    QTimer::singleShot(0, this, &ExportController::recordNext);
  else
    writeInBackground();
}

void ExportController::writeInBackground() {
  std::vector<QString> paths;
  for (const auto& image : m_job->images) paths.push_back(image.second);
  const int recordedSteps = static_cast<int>(paths.size());
  QtConcurrent::run(
      &m_pool,
      [this, snapshot = m_job->snapshot, dataPath = m_job->dataPath, recorded = m_job->recorded, paths,
       recordedSteps, cancel = m_job->cancel]() -> Outcome {
        try {
          if (!dataPath.isEmpty()) {
            const bool csv = QFileInfo(dataPath).suffix().toLower() == QLatin1String("csv");
            const QByteArray contents = csv ? Exporter::toCsv(*snapshot) : Exporter::toJson(*snapshot);
            cancel->throw_if_cancelled();
            Exporter::writeFile(dataPath, contents);
            return Outcome{true, false, {}};
          }
          // All the maps or none: a Cancel or a failure halfway leaves the folder as it was.
          StagedFiles staged;
          for (std::size_t i = 0; i < paths.size(); ++i) {
            const QByteArray contents = Exporter::encode((*recorded)[i], *cancel);
            cancel->throw_if_cancelled();
            staged.stage(QFile::encodeName(paths[i]).toStdString(),
                         std::string_view(contents.constData(), static_cast<std::size_t>(contents.size())));
            const int done = recordedSteps + static_cast<int>(i) + 1;
            QMetaObject::invokeMethod(this, [this, done] {
              if (m_progress) m_progress->setValue(done);
            });
          }
          cancel->throw_if_cancelled();
          staged.commit();
          return Outcome{true, false, {}};
        } catch (const Cancelled&) {
          return Outcome{false, true, {}};
        } catch (const Error& problem) {
          return Outcome{false, false, toQString(problem.what())};
        } catch (const std::bad_alloc&) {
          return Outcome{false, false, QStringLiteral("not enough memory for the export")};
        }
      })
      .then(this, [this](const Outcome& outcome) { end(outcome); });
}

void ExportController::end(const Outcome& outcome) {
  const std::unique_ptr<Job> job = std::move(m_job);
  if (m_progress) {
    m_progress->deleteLater();
    m_progress = nullptr;
  }
  for (QAction* action : {m_imageAction, m_eachMapAction, m_csvAction, m_jsonAction})
    action->setEnabled(true);
  const bool fromDialog = std::exchange(m_dialogAsked, false);
  std::optional<ImageDialogState> imageDialogState = std::exchange(m_imageDialogAsked, std::nullopt);
  m_lastWritten = outcome.written;
  m_lastMessage = outcome.cancelled ? tr("the export was cancelled") : outcome.message;
  if (outcome.written) {
    m_lastMessage = job->doneMessage;
    if (!job->directory.isEmpty()) m_lastDirectory = job->directory;
    emit statusMessage(m_lastMessage);
  } else if (outcome.cancelled) {
    emit statusMessage(tr("Export cancelled; nothing was written."));
  } else if (imageDialogState) {
    imageDialogState->problem = m_lastMessage;
    emit statusMessage(tr("Export failed; nothing was written."));
    // After `finished` is out, not inside it: the dialog runs an event loop of its own.
    QTimer::singleShot(0, this, [this, state = *imageDialogState] { imageDialog(false, state); });
  } else if (fromDialog) {
    QMessageBox::warning(m_window, tr("Export Failed"), tr("Nothing was written.\n\n%1").arg(m_lastMessage));
  }
  emit finished(outcome.written, m_lastMessage);
}

bool ExportController::waitForFinished(QString* error) {
  if (m_job) {
    QEventLoop loop;
    connect(this, &ExportController::finished, &loop, &QEventLoop::quit);
    loop.exec();
  }
  if (!m_lastWritten && error) *error = m_lastMessage;
  return m_lastWritten;
}

bool ExportController::copyImage() {
  const SnapshotPointer& snapshot = m_model->snapshot();
  if (!snapshot) return false;
  // Drawn here into paint commands (a few milliseconds), turned into pixels on the worker, handed to the
  // clipboard back here.
  auto recorded = std::make_shared<RecordedImage>();
  try {
    const ComparisonPointer& comparison = m_model->comparison();
    if (comparison && comparison->b)
      *recorded =
          ComparePlot::record(comparison, m_model->display(),
                              ImageRequest{ImageFormat::png, QSize(), m_windowPlot->devicePixelRatioF()});
    else
      *recorded = Exporter::record(
          snapshot, m_model->display(), std::nullopt,
          ImageRequest{ImageFormat::png, m_windowPlot->size(), m_windowPlot->devicePixelRatioF()});
  } catch (const Error& problem) {
    emit statusMessage(toQString(problem.what()));
    return false;
  }
  QtConcurrent::run(&m_pool, [recorded] {
    return Exporter::toRaster(*recorded);
  }).then(this, [this](const QImage& image) {
    QGuiApplication::clipboard()->setImage(image);
    emit statusMessage(tr("Copied the heatmaps to the clipboard."));
    emit imageCopied();
  });
  return true;
}

void ExportController::imageDialog(bool eachMap, const std::optional<ImageDialogState>& again) {
  if (!m_model->snapshot() || m_windowPlot->mapCount() == 0) {
    emit statusMessage(tr("There is nothing to export yet: type a sentence."));
    return;
  }
  ExportDialog dialog(*m_windowPlot, m_windowPlot->size(), directory(), m_window);
  if (again) {
    // A failed export: the dialog as it was accepted (its format and size are remembered), with the reason.
    dialog.setTargetIndex(again->targetIndex);
    dialog.setPath(again->path);
    dialog.setProblem(tr("Nothing was written: %1").arg(again->problem));
  } else if (eachMap) {
    dialog.setTarget(ExportDialog::Target::folder);
  }
  if (dialog.exec() != QDialog::Accepted) return;
  const QString path = dialog.path();
  const bool folder = dialog.target() == ExportDialog::Target::folder;
  if (folder)
    exportEachMap(path, dialog.request());
  else
    exportImage(path, dialog.request(), dialog.map());
  ImageDialogState state{dialog.targetIndex(), path, {}};
  if (m_job) {
    m_imageDialogAsked = state;
    m_job->directory = folder ? path : QFileInfo(path).path();
  } else if (!m_lastWritten) {
    state.problem = m_lastMessage;
    QTimer::singleShot(0, this, [this, state] { imageDialog(false, state); });
  }
}

void ExportController::dataDialog(const QString& suffix) {
  if (!m_model->snapshot()) {
    emit statusMessage(tr("There is nothing to export yet: type a sentence."));
    return;
  }
  const QString filter = suffix == QLatin1String("csv") ? tr("CSV (*.csv)") : tr("JSON (*.json)");
  QString path =
      QFileDialog::getSaveFileName(m_window, tr("Export Matrices"),
                                   QDir(directory()).filePath(QStringLiteral("attention.") + suffix), filter);
  if (path.isEmpty()) return;
  if (QFileInfo(path).suffix().isEmpty()) path += QLatin1Char('.') + suffix;
  exportData(path);
  if (m_job) {
    m_dialogAsked = true;
    m_job->directory = QFileInfo(path).path();
  } else if (!m_lastWritten) {
    QMessageBox::warning(m_window, tr("Export Failed"), tr("Nothing was written.\n\n%1").arg(m_lastMessage));
  }
}

}  // namespace attnscope::ui

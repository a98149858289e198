#include "main_window.hpp"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDirIterator>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QScreen>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include "export/export_dialog.hpp"
#include "panels/detail_panel.hpp"
#include "panels/model_overview.hpp"
#include "panels/sentence_editor.hpp"
#include "panels/settings_panel.hpp"
#include "panels/token_strip.hpp"
#include "plot/heatmap_grid.hpp"
#include "resources.hpp"
#include "session/session_file.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

constexpr int kMaxRecentFiles = 8;
constexpr int kBusyDelayMs = 150;  // show the busy indicator only for computations a person would notice

QString sessionFilter() {
  return QObject::tr("AttnScope sessions (*.attnscope);;All files (*)");
}

void setError(QString* error, const QString& message) {
  if (error) *error = message;
}

}  // namespace

MainWindow::MainWindow(std::optional<ViewSettings> initial, QWidget* parent)
    : QMainWindow(parent),
      m_model(new ScopeModel(this)),
      m_controller(new ComputeController(this)),
      m_editor(new SentenceEditor),
      m_strip(new TokenStrip),
      m_grid(new HeatmapGrid),
      m_settingsPanel(new SettingsPanel),
      m_detail(new DetailPanel),
      m_overview(new ModelOverview),
      m_settingsDock(new QDockWidget(tr("Settings"), this)),
      m_detailDock(new QDockWidget(tr("Selected query"), this)),
      m_overviewDock(new QDockWidget(tr("Model overview: every layer \u00d7 head"), this)),
      m_summary(new QLabel),
      m_busy(new QProgressBar),
      m_cancelButton(new QToolButton),
      m_busyDelay(new QTimer(this)),
      m_detailDelay(new QTimer(this)) {
  initResources();
  setWindowIcon(QIcon(QStringLiteral(":/attnscope/icons/attnscope.svg")));
  setObjectName(QStringLiteral("MainWindow"));

  auto* central = new QWidget;
  auto* layout = new QVBoxLayout(central);
  layout->setContentsMargins(8, 8, 8, 4);
  layout->setSpacing(6);
  layout->addWidget(m_editor);
  layout->addWidget(m_strip);
  layout->addWidget(m_grid, 1);
  setCentralWidget(central);

  m_settingsDock->setObjectName(QStringLiteral("settingsDock"));
  m_settingsDock->setWidget(m_settingsPanel);
  m_settingsDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable);
  addDockWidget(Qt::LeftDockWidgetArea, m_settingsDock);
  m_detailDock->setObjectName(QStringLiteral("detailDock"));
  m_detailDock->setWidget(m_detail);
  m_detailDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable);
  addDockWidget(Qt::RightDockWidgetArea, m_detailDock);
  m_overviewDock->setObjectName(QStringLiteral("overviewDock"));
  m_overviewDock->setWidget(m_overview);
  m_overviewDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable);
  addDockWidget(Qt::RightDockWidgetArea, m_overviewDock);
  m_overviewDock->hide();  // shown while a model is open
  resizeDocks({m_settingsDock, m_detailDock}, {300, 370}, Qt::Horizontal);
  m_defaultState = saveState();

  buildActions();
  buildMenus();
  buildStatusBar();
  connectModel();

  const QRect screen = QGuiApplication::primaryScreen()
                           ? QGuiApplication::primaryScreen()->availableGeometry()
                           : QRect(0, 0, 1600, 1000);
  resize(std::min(1800, screen.width() * 96 / 100), std::min(1120, screen.height() * 94 / 100));

  const std::optional<ViewSettings> saved = readSettings();
  const ViewSettings settings = initial.value_or(saved.value_or(ViewSettings::defaults()));
  m_display = DisplayOptions::from(settings);
  m_model->setSettings(settings);
  m_settingsPanel->setSettings(settings);
  m_editor->setText(settings.text);
  m_controller->requestNow(settings);
  updateTitle();
  setWindowModified(false);
}

MainWindow::~MainWindow() = default;

void MainWindow::buildActions() {
  m_openAction = new QAction(tr("&Open Session\u2026"), this);
  m_openAction->setShortcut(QKeySequence::Open);
  connect(m_openAction, &QAction::triggered, this, &MainWindow::openSessionDialog);

  m_openModelAction = new QAction(tr("Open &Model\u2026"), this);
  m_openModelAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
  m_openModelAction->setToolTip(tr("A GPT-2 folder: config.json, model.safetensors, vocab.json, merges.txt"));
  connect(m_openModelAction, &QAction::triggered, this, &MainWindow::openModelDialog);

  m_closeModelAction = new QAction(tr("C&lose Model"), this);
  m_closeModelAction->setEnabled(false);
  connect(m_closeModelAction, &QAction::triggered, this, &MainWindow::closeModel);

  m_saveAction = new QAction(tr("&Save Session"), this);
  m_saveAction->setShortcut(QKeySequence::Save);
  connect(m_saveAction, &QAction::triggered, this, [this] { saveSessionDialog(false); });

  m_saveAsAction = new QAction(tr("Save Session &As\u2026"), this);
  m_saveAsAction->setShortcut(QKeySequence::SaveAs);
  connect(m_saveAsAction, &QAction::triggered, this, [this] { saveSessionDialog(true); });

  m_exportAction = new QAction(tr("&Export Image\u2026"), this);
  m_exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
  connect(m_exportAction, &QAction::triggered, this, [this] { exportImageDialog(false); });

  m_exportEachAction = new QAction(tr("Export Each &Map to a Folder\u2026"), this);
  connect(m_exportEachAction, &QAction::triggered, this, [this] { exportImageDialog(true); });

  m_exportCsvAction = new QAction(tr("Export Matrices as &CSV\u2026"), this);
  connect(m_exportCsvAction, &QAction::triggered, this, [this] { exportDataDialog(QStringLiteral("csv")); });

  m_exportJsonAction = new QAction(tr("Export Matrices as &JSON\u2026"), this);
  connect(m_exportJsonAction, &QAction::triggered, this,
          [this] { exportDataDialog(QStringLiteral("json")); });

  m_copyAction = new QAction(tr("&Copy Image"), this);
  m_copyAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
  connect(m_copyAction, &QAction::triggered, this, [this] {
    if (copyImage()) showStatus(tr("Copied the heatmaps to the clipboard."));
  });

  m_cancelAction = new QAction(tr("Cancel &Computation"), this);
  m_cancelAction->setShortcut(QKeySequence(Qt::Key_Escape));
  m_cancelAction->setEnabled(false);
  connect(m_cancelAction, &QAction::triggered, m_controller, &ComputeController::cancel);

  m_quitAction = new QAction(tr("&Quit"), this);
  m_quitAction->setShortcut(QKeySequence::Quit);
  m_quitAction->setMenuRole(QAction::QuitRole);
  connect(m_quitAction, &QAction::triggered, this, &QWidget::close);
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(m_openAction);
  m_recentMenu = file->addMenu(tr("Open &Recent"));
  buildPresetMenu(file->addMenu(tr("Open &Example")));
  file->addSeparator();
  file->addAction(m_openModelAction);
  file->addAction(m_closeModelAction);
  file->addSeparator();
  file->addAction(m_saveAction);
  file->addAction(m_saveAsAction);
  file->addSeparator();
  file->addAction(m_exportAction);
  file->addAction(m_exportEachAction);
  file->addAction(m_exportCsvAction);
  file->addAction(m_exportJsonAction);
  file->addSeparator();
  file->addAction(m_quitAction);

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  edit->addAction(m_copyAction);
  QAction* focusText = edit->addAction(tr("Edit the &Sentence"));
  focusText->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
  connect(focusText, &QAction::triggered, this, [this] {
    m_editor->setFocus();
    m_editor->selectAll();
  });
  edit->addSeparator();
  edit->addAction(m_cancelAction);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  view->addAction(m_settingsDock->toggleViewAction());
  view->addAction(m_detailDock->toggleViewAction());
  view->addAction(m_overviewDock->toggleViewAction());
  view->addSeparator();
  QAction* reset = view->addAction(tr("&Reset Layout"));
  connect(reset, &QAction::triggered, this, [this] {
    restoreState(m_defaultState);
    m_settingsDock->show();
    m_detailDock->show();
  });

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  QAction* shortcuts = help->addAction(tr("&Keyboard and Mouse"));
  shortcuts->setShortcut(QKeySequence::HelpContents);
  connect(shortcuts, &QAction::triggered, this, &MainWindow::showShortcuts);
  QAction* about = help->addAction(tr("&About AttnScope"));
  about->setMenuRole(QAction::AboutRole);
  connect(about, &QAction::triggered, this, &MainWindow::showAbout);
  updateRecentMenu();
}

void MainWindow::buildStatusBar() {
  m_busy->setRange(0, 0);
  m_busy->setMaximumWidth(120);
  m_busy->setMaximumHeight(14);
  m_busy->setTextVisible(false);
  m_busy->hide();
  m_cancelButton->setText(tr("Cancel"));
  m_cancelButton->setToolTip(tr("Stop this computation (Esc); the heatmaps on screen stay"));
  m_cancelButton->setAutoRaise(true);
  m_cancelButton->hide();
  connect(m_cancelButton, &QToolButton::clicked, m_controller, &ComputeController::cancel);
  statusBar()->addPermanentWidget(m_busy);
  statusBar()->addPermanentWidget(m_cancelButton);
  statusBar()->addPermanentWidget(m_summary);
  m_busyDelay->setSingleShot(true);
  m_busyDelay->setInterval(kBusyDelayMs);
  connect(m_busyDelay, &QTimer::timeout, this, [this] {
    m_busy->show();
    m_cancelButton->show();
    showStatus(tr("Computing\u2026"), 0);
  });
}

void MainWindow::connectModel() {
  connect(m_editor, &SentenceEditor::textEdited, m_model, &ScopeModel::setText);
  connect(m_settingsPanel, &SettingsPanel::settingsChanged, this, [this](const ViewSettings& settings) {
    ViewSettings edited = settings;
    edited.text = m_model->settings().text;  // the editor owns the text
    m_model->setSettings(edited);
  });
  connect(m_model, &ScopeModel::settingsChanged, this, &MainWindow::onSettingsChanged);
  connect(m_model, &ScopeModel::snapshotChanged, this, &MainWindow::onSnapshotChanged);
  connect(m_model, &ScopeModel::hoverChanged, this, &MainWindow::onHoverChanged);
  connect(m_model, &ScopeModel::selectionChanged, this, &MainWindow::onSelectionChanged);

  connect(m_grid, &HeatmapGrid::cellHovered, m_model, &ScopeModel::setHover);
  connect(m_grid, &HeatmapGrid::cellClicked, this, [this](const MapKey& map, int query) {
    m_model->setSelection(QuerySelection{query, map.maskRow, map.head});
  });
  connect(m_grid, &HeatmapGrid::queryStepped, this, [this](int delta) {
    const SnapshotPointer& snapshot = m_model->snapshot();
    if (!snapshot) return;
    m_model->selectQuery(std::clamp(m_model->selection().query + delta, 0, snapshot->tokenCount() - 1));
  });
  connect(m_strip, &TokenStrip::tokenHovered, this, [this](int index) { m_model->setHover(index, index); });
  connect(m_strip, &TokenStrip::tokenClicked, m_model, &ScopeModel::selectQuery);
  connect(m_overview, &ModelOverview::mapClicked, this, &MainWindow::onOverviewClicked);
  connect(m_settingsPanel, &SettingsPanel::openModelRequested, this, &MainWindow::openModelDialog);
  connect(m_settingsPanel, &SettingsPanel::closeModelRequested, this, &MainWindow::closeModel);

  // The worker prepares each map at the size it is drawn: a long text's maps arrive already reduced.
  m_controller->setMapPixels([this](const ViewSettings& settings) {
    const bool multihead =
        settings.mechanism == Mechanism::multihead || settings.mechanism == Mechanism::multihead_wrapper;
    const int rows = static_cast<int>(std::max<std::size_t>(1, settings.masks.size()) *
                                      std::max<std::size_t>(1, settings.quantities.size()));
    return m_grid->plot()->pixelsPerMap(multihead ? settings.heads : 1, rows);
  });
  m_detailDelay->setSingleShot(true);
  m_detailDelay->setInterval(0);
  connect(m_detailDelay, &QTimer::timeout, this,
          [this] { m_detail->setContent(m_model->snapshot(), m_model->selection()); });
  connect(m_controller, &ComputeController::snapshotReady, this, &MainWindow::onSnapshotReady);
  connect(m_controller, &ComputeController::inputEmpty, this, [this] {
    m_settingsPanel->clearFieldErrors();
    m_grid->clearProblem();
    m_model->setSnapshot(nullptr);
  });
  connect(m_controller, &ComputeController::failed, this, &MainWindow::onComputeFailed);
  connect(m_controller, &ComputeController::cancelled, this, [this] {
    showStatus(tr("Cancelled. The heatmaps are from the previous text; edit it again to recompute."));
  });
  connect(m_controller, &ComputeController::busyChanged, this, &MainWindow::onBusyChanged);
}

void MainWindow::onSettingsChanged(const ViewSettings& settings) {
  m_settingsPanel->setSettings(settings);
  m_closeModelAction->setEnabled(!settings.modelFolder.isEmpty());
  m_editor->setText(settings.text);
  m_controller->request(settings);
  const DisplayOptions display = DisplayOptions::from(settings);
  if (!(display == m_display)) {
    m_display = display;
    m_grid->setContent(m_model->snapshot(), m_display);
    m_overview->setContent(m_model->snapshot(), m_model->selection().maskRow, m_display.colorMap);
    m_grid->setSelection(m_model->selection());
  }
  setWindowModified(true);
}

void MainWindow::onSnapshotReady(const SnapshotPointer& snapshot) {
  m_settingsPanel->clearFieldErrors();
  m_settingsPanel->setEmbeddingsNote(snapshot->embeddingsNote);
  m_grid->clearProblem();
  if (!m_modelProblem.isEmpty()) {
    // The view the window went back to: say once, over it, why the model is not shown.
    m_grid->showProblem(m_modelProblem);
    m_settingsPanel->setFieldError(SettingsField::model, m_modelProblem);
    showStatus(m_modelProblem, 20000);
    m_modelProblem.clear();
  }
  if (snapshot->model && snapshot->model->folder == m_openingModel) {
    const Gpt2Config& config = snapshot->model->config;
    showStatus(tr("Opened %1: %2 layers \u00d7 %3 heads, %4 positions.")
                   .arg(QFileInfo(m_openingModel).fileName())
                   .arg(config.n_layer)
                   .arg(config.n_head)
                   .arg(config.n_positions));
    m_openingModel.clear();
  }
  if (!snapshot->fallbackReason.isEmpty()) {
    const QString message = tr("Computed on the CPU: %1").arg(snapshot->fallbackReason);
    m_settingsPanel->setFieldError(SettingsField::device, message);
    showStatus(message);
  }
  m_model->setSnapshot(snapshot);
}

void MainWindow::onSnapshotChanged(const SnapshotPointer& snapshot) {
  m_detailFollowsSnapshot = true;  // the model announces the selection next
  m_grid->setContent(snapshot, m_display);
  m_strip->setSnapshot(snapshot);
  const bool model = snapshot && snapshot->model;
  m_overview->setContent(snapshot, m_model->selection().maskRow, m_display.colorMap);
  if (model) {
    m_settingsPanel->setLayerCount(snapshot->model->config.n_layer);
    if (m_overviewDock->isHidden()) {
      m_overviewDock->show();
      // Room for n_layer rows of small maps: the detail panel scrolls, the maps would not be readable.
      resizeDocks({m_detailDock, m_overviewDock}, {height() / 2, height() / 2}, Qt::Vertical);
    }
  } else if (snapshot) {
    m_overviewDock->hide();
  }
  m_summary->setText(statusSummary());
  m_summary->setToolTip(snapshot && !snapshot->fallbackReason.isEmpty() ? snapshot->fallbackReason
                                                                        : QString());
  if (!snapshot) m_settingsPanel->setEmbeddingsNote(QString());
}

void MainWindow::onHoverChanged(int query, int key) {
  m_grid->setHover(query, key);
  m_strip->setHover(query);
  const SnapshotPointer& snapshot = m_model->snapshot();
  // Spans index the text the snapshot was computed from; while a newer edit computes they may not match.
  if (snapshot && query >= 0 && query < snapshot->tokenCount() && snapshot->text == m_editor->text())
    m_editor->highlightSpan(snapshot->spans[query].first, snapshot->spans[query].second);
  else
    m_editor->highlightSpan(0, 0);
}

void MainWindow::onSelectionChanged(const QuerySelection& selection) {
  if (selection.maskRow != m_overview->maskRow())
    m_overview->setContent(m_model->snapshot(), selection.maskRow, m_display.colorMap);
  m_overview->setCurrentHead(selection.head);
  m_grid->setSelection(selection);
  m_strip->setSelected(selection.query);
  if (m_detailFollowsSnapshot) {
    m_detailFollowsSnapshot = false;
    m_detailDelay->start();
    return;
  }
  m_detailDelay->stop();
  m_detail->setContent(m_model->snapshot(), selection);
}

void MainWindow::onComputeFailed(SettingsField field, const QString& message) {
  if (field == SettingsField::model) {
    // Go back to what is on screen (the book, or the model that opened last), and say why over it.
    const SnapshotPointer& shown = m_model->snapshot();
    ViewSettings previous = m_model->settings();
    previous.modelFolder = shown && shown->model ? shown->model->folder : QString();
    if (shown && shown->model) previous.layer = shown->model->layer;
    m_modelProblem = tr("Could not open the model: %1").arg(message);
    m_openingModel.clear();
    showStatus(m_modelProblem, 20000);
    if (previous == m_model->settings()) {
      m_grid->showProblem(m_modelProblem);
      m_modelProblem.clear();
    }
    m_model->setSettings(previous);
    return;
  }
  m_settingsPanel->clearFieldErrors();
  m_settingsPanel->setFieldError(field, message);
  m_grid->showProblem(message);
  showStatus(message);
}

void MainWindow::onBusyChanged(bool busy) {
  m_cancelAction->setEnabled(busy);
  if (busy) {
    if (!m_busyDelay->isActive() && m_busy->isHidden()) m_busyDelay->start();
    return;
  }
  m_busyDelay->stop();
  m_busy->hide();
  m_cancelButton->hide();
  if (m_lastMessage == tr("Computing\u2026")) {
    statusBar()->clearMessage();
    m_lastMessage.clear();
  }
}

QString MainWindow::statusSummary() const {
  const SnapshotPointer& snapshot = m_model->snapshot();
  if (!snapshot) return tr("no tokens");
  if (snapshot->model)
    return counted(snapshot->tokenCount(), tr("token"), tr("tokens")) + QStringLiteral("  \u00b7  ") +
           tr("%1 \u00b7 layer %2 of 0\u2013%3")
               .arg(QFileInfo(snapshot->model->folder).fileName())
               .arg(snapshot->model->layer)
               .arg(snapshot->model->config.n_layer - 1) +
           QStringLiteral("  \u00b7  ") + counted(snapshot->mechanismHeadCount(), tr("head"), tr("heads")) +
           QStringLiteral("  \u00b7  ") + counted(snapshot->maskCount(), tr("mask"), tr("masks")) +
           QStringLiteral("  \u00b7  cpu  \u00b7  ") +
           tr("%1 ms").arg(snapshot->computeMs, 0, 'f', snapshot->computeMs < 10 ? 2 : 0);
  return counted(snapshot->tokenCount(), tr("token"), tr("tokens")) + QStringLiteral("  \u00b7  ") +
         counted(snapshot->headCount(), tr("head"), tr("heads")) + QStringLiteral("  \u00b7  ") +
         counted(snapshot->maskCount(), tr("mask"), tr("masks")) + QStringLiteral("  \u00b7  ") +
         snapshot->device + QStringLiteral("  \u00b7  ") +
         tr("%1 ms").arg(snapshot->computeMs, 0, 'f', snapshot->computeMs < 10 ? 2 : 0);
}

void MainWindow::showStatus(const QString& message, int milliseconds) {
  m_lastMessage = message;
  statusBar()->showMessage(message, milliseconds);
}

void MainWindow::computeNow(const ViewSettings& settings) {
  m_model->setSettings(settings);
  m_controller->requestNow(settings);
}

// Models
// -----------------------------------------------------------------------------------------------------

void MainWindow::openModel(const QString& folder) {
  ViewSettings settings = m_model->settings();
  const QString absolute = QFileInfo(folder).absoluteFilePath();
  if (settings.modelFolder != absolute) settings.layer = 0;
  settings.modelFolder = absolute;
  m_settingsPanel->clearFieldErrors();
  // Before the request: a folder that fails at once can report back inside computeNow (a finished future's
  // continuation runs directly), and its message must not be overwritten.
  m_openingModel = absolute;
  showStatus(tr("Opening %1\u2026").arg(QDir::toNativeSeparators(absolute)), 0);
  computeNow(settings);
}

void MainWindow::closeModel() {
  ViewSettings settings = m_model->settings();
  if (settings.modelFolder.isEmpty()) return;
  settings.modelFolder.clear();
  settings.layer = 0;
  computeNow(settings);
}

void MainWindow::openModelDialog() {
  const QString current = m_model->settings().modelFolder;
  const QString folder = QFileDialog::getExistingDirectory(
      this, tr("Open a GPT-2 Folder (config.json, model.safetensors, vocab.json, merges.txt)"),
      current.isEmpty() ? QDir::homePath() : QFileInfo(current).path());
  if (!folder.isEmpty()) openModel(folder);
}

void MainWindow::onOverviewClicked(int layer, int head) {
  ViewSettings settings = m_model->settings();
  settings.layer = layer;
  m_model->setSettings(settings);
  m_model->setSelection(QuerySelection{m_model->selection().query, m_overview->maskRow(), head});
  m_grid->ensureMapVisible(m_overview->maskRow(), head);
}

// Sessions
// ---------------------------------------------------------------------------------------------------

bool MainWindow::showSessionFile(const QString& path, QString* error) {
  ViewSettings settings;
  try {
    settings = SessionFile::load(path);
  } catch (const Error& problem) {
    setError(error, toQString(problem.what()));
    return false;
  }
  computeNow(settings);
  return true;
}

bool MainWindow::openSession(const QString& path, QString* error) {
  if (!showSessionFile(path, error)) return false;
  m_sessionPath = path;
  rememberRecent(path);
  setWindowModified(false);
  updateTitle();
  showStatus(tr("Opened %1.").arg(QFileInfo(path).fileName()));
  return true;
}

bool MainWindow::saveSession(const QString& path, QString* error) {
  try {
    SessionFile::save(path, m_model->settings());
  } catch (const Error& problem) {
    setError(error, toQString(problem.what()));
    return false;
  }
  m_sessionPath = path;
  rememberRecent(path);
  setWindowModified(false);
  updateTitle();
  showStatus(tr("Saved %1.").arg(QFileInfo(path).fileName()));
  return true;
}

bool MainWindow::openPreset(const QString& path, QString* error) {
  if (!showSessionFile(path, error)) return false;
  m_sessionPath.clear();
  updateTitle();
  return true;
}

void MainWindow::buildPresetMenu(QMenu* menu) {
  QStringList paths;
  QDirIterator presets(QStringLiteral(":/attnscope/presets"));
  while (presets.hasNext()) paths << presets.next();
  paths.sort();
  for (const QString& path : paths) {
    QFile file(path);
    QString title = QFileInfo(path).completeBaseName();
    if (file.open(QIODevice::ReadOnly)) {
      const QJsonObject json = QJsonDocument::fromJson(file.readAll()).object();
      title = json.value(QStringLiteral("title")).toString(title);
    }
    QAction* action = menu->addAction(title);
    connect(action, &QAction::triggered, this, [this, path, title] {
      QString error;
      if (openPreset(path, &error))
        showStatus(tr("Example: %1.").arg(title));
      else
        QMessageBox::warning(this, tr("Cannot Open Example"), error);
    });
  }
}

void MainWindow::openSessionDialog() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Open Session"), QFileInfo(m_sessionPath).path(),
                                                    sessionFilter());
  if (path.isEmpty()) return;
  QString error;
  if (!openSession(path, &error)) QMessageBox::warning(this, tr("Cannot Open Session"), error);
}

void MainWindow::saveSessionDialog(bool choosePath) {
  QString path = m_sessionPath;
  if (choosePath || path.isEmpty()) {
    const QString suggested =
        path.isEmpty() ? QDir(exportDirectory()).filePath(QStringLiteral("session.attnscope")) : path;
    path = QFileDialog::getSaveFileName(this, tr("Save Session"), suggested, sessionFilter());
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".attnscope");
  }
  QString error;
  if (!saveSession(path, &error)) QMessageBox::warning(this, tr("Cannot Save Session"), error);
}

void MainWindow::rememberRecent(const QString& path) {
  const QString absolute = QFileInfo(path).absoluteFilePath();
  m_recentFiles.removeAll(absolute);
  m_recentFiles.prepend(absolute);
  while (m_recentFiles.size() > kMaxRecentFiles) m_recentFiles.removeLast();
  updateRecentMenu();
}

void MainWindow::updateRecentMenu() {
  if (!m_recentMenu) return;
  m_recentMenu->clear();
  for (int i = 0; i < m_recentFiles.size(); ++i) {
    const QString path = m_recentFiles.at(i);
    QAction* action =
        m_recentMenu->addAction(QStringLiteral("&%1  %2").arg(i + 1).arg(QFileInfo(path).fileName()));
    action->setToolTip(path);
    connect(action, &QAction::triggered, this, [this, path] {
      QString error;
      if (!openSession(path, &error)) {
        QMessageBox::warning(this, tr("Cannot Open Session"), error);
        m_recentFiles.removeAll(path);
        updateRecentMenu();
      }
    });
  }
  if (m_recentFiles.isEmpty()) m_recentMenu->addAction(tr("No recent sessions"))->setEnabled(false);
  m_recentMenu->addSeparator();
  QAction* clear = m_recentMenu->addAction(tr("&Clear the List"));
  clear->setEnabled(!m_recentFiles.isEmpty());
  connect(clear, &QAction::triggered, this, [this] {
    m_recentFiles.clear();
    updateRecentMenu();
  });
}

void MainWindow::updateTitle() {
  const QString name = m_sessionPath.isEmpty() ? tr("Untitled") : QFileInfo(m_sessionPath).fileName();
  setWindowTitle(QStringLiteral("%1[*] \u2014 AttnScope").arg(name));
}

// Exports
// ----------------------------------------------------------------------------------------------------

QString MainWindow::exportDirectory() const {
  if (!m_lastExportDirectory.isEmpty()) return m_lastExportDirectory;
  const QString pictures = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
  return QFileInfo(pictures).isDir() ? pictures : QDir::homePath();
}

bool MainWindow::exportImage(const QString& path, const ImageRequest& request, std::optional<MapKey> only,
                             QString* error) {
  try {
    Exporter::exportImage(m_model->snapshot(), m_display, only, request, path);
  } catch (const Error& problem) {
    setError(error, toQString(problem.what()));
    return false;
  }
  showStatus(tr("Exported %1.").arg(QDir::toNativeSeparators(path)));
  return true;
}

bool MainWindow::exportEachMap(const QString& folder, const ImageRequest& request, QString* error) {
  try {
    const QStringList written = Exporter::exportEachMap(m_model->snapshot(), m_display, request, folder);
    showStatus(tr("Exported %1 to %2.")
                   .arg(counted(written.size(), tr("map"), tr("maps")), QDir::toNativeSeparators(folder)));
  } catch (const Error& problem) {
    setError(error, toQString(problem.what()));
    return false;
  }
  return true;
}

bool MainWindow::exportData(const QString& path, QString* error) {
  const SnapshotPointer& snapshot = m_model->snapshot();
  try {
    if (!snapshot) throw Error("there is nothing to export: the text is empty");
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("csv"))
      Exporter::exportCsv(*snapshot, path);
    else if (suffix == QLatin1String("json"))
      Exporter::exportJson(*snapshot, path);
    else
      throw Error("cannot export to '" + path.toStdString() + "': the name must end in .csv or .json");
  } catch (const Error& problem) {
    setError(error, toQString(problem.what()));
    return false;
  }
  showStatus(tr("Exported %1.").arg(QDir::toNativeSeparators(path)));
  return true;
}

bool MainWindow::copyImage() {
  const SnapshotPointer& snapshot = m_model->snapshot();
  if (!snapshot) return false;
  try {
    const QImage image = Exporter::renderRaster(snapshot, m_display, std::nullopt, m_grid->plot()->size(),
                                                m_grid->plot()->devicePixelRatioF());
    QGuiApplication::clipboard()->setImage(image);
  } catch (const Error& problem) {
    showStatus(toQString(problem.what()));
    return false;
  }
  return true;
}

void MainWindow::exportImageDialog(bool eachMap) {
  if (!m_model->snapshot() || m_grid->plot()->mapCount() == 0) {
    showStatus(tr("There is nothing to export yet: type a sentence."));
    return;
  }
  ExportDialog dialog(*m_grid->plot(), m_grid->plot()->size(), exportDirectory(), this);
  if (eachMap) dialog.setTarget(ExportDialog::Target::folder);
  if (dialog.exec() != QDialog::Accepted) return;
  QString error;
  bool ok = false;
  const QString path = dialog.path();
  QGuiApplication::setOverrideCursor(Qt::WaitCursor);
  if (dialog.target() == ExportDialog::Target::folder)
    ok = exportEachMap(path, dialog.request(), &error);
  else
    ok = exportImage(path, dialog.request(), dialog.map(), &error);
  QGuiApplication::restoreOverrideCursor();
  if (!ok) {
    QMessageBox::warning(this, tr("Export Failed"), tr("Nothing was written.\n\n%1").arg(error));
    return;
  }
  m_lastExportDirectory = dialog.target() == ExportDialog::Target::folder ? path : QFileInfo(path).path();
}

void MainWindow::exportDataDialog(const QString& suffix) {
  if (!m_model->snapshot()) {
    showStatus(tr("There is nothing to export yet: type a sentence."));
    return;
  }
  const QString filter = suffix == QLatin1String("csv") ? tr("CSV (*.csv)") : tr("JSON (*.json)");
  QString path = QFileDialog::getSaveFileName(
      this, tr("Export Matrices"), QDir(exportDirectory()).filePath(QStringLiteral("attention.") + suffix),
      filter);
  if (path.isEmpty()) return;
  if (QFileInfo(path).suffix().isEmpty()) path += QLatin1Char('.') + suffix;
  QString error;
  if (!exportData(path, &error)) {
    QMessageBox::warning(this, tr("Export Failed"), tr("Nothing was written.\n\n%1").arg(error));
    return;
  }
  m_lastExportDirectory = QFileInfo(path).path();
}

// Help
// -------------------------------------------------------------------------------------------------------

void MainWindow::showShortcuts() {
  QMessageBox::information(
      this, tr("Keyboard and Mouse"),
      tr("<table cellspacing='6'>"
         "<tr><td><b>Type</b></td><td>every edit recomputes the heatmaps</td></tr>"
         "<tr><td><b>Hover a cell</b></td><td>its query and key tokens, raw and scaled score, weight; the "
         "row and "
         "column light up in every map and the query is highlighted in the sentence</td></tr>"
         "<tr><td><b>Hover a token</b></td><td>its row and column in every map</td></tr>"
         "<tr><td><b>Click a cell or token</b></td><td>select that query: the panel on the right explains "
         "it</td></tr>"
         "<tr><td><b>\u2191 / \u2193</b></td><td>previous / next query (click the grid first)</td></tr>"
         "<tr><td><b>Ctrl+L</b></td><td>edit the sentence</td></tr>"
         "<tr><td><b>Esc</b></td><td>cancel a long computation</td></tr>"
         "<tr><td><b>Ctrl+E</b></td><td>export an image (PNG, SVG, PDF)</td></tr>"
         "<tr><td><b>Ctrl+Shift+C</b></td><td>copy the heatmaps as an image</td></tr>"
         "<tr><td><b>Ctrl+O / Ctrl+S</b></td><td>open / save a session</td></tr>"
         "<tr><td><b>Ctrl+Shift+O</b></td><td>open a GPT-2 folder; click a map of the model overview to "
         "show its layer and head in the grid</td></tr>"
         "</table>"));
}

void MainWindow::showAbout() {
  QMessageBox::about(
      this, tr("About AttnScope"),
      tr("<h3>AttnScope %1</h3><p>Type a sentence and watch the attention mechanisms of chapter 3 of "
         "<i>Build a Large Language Model (From Scratch)</i> work, with exactly the numbers PyTorch "
         "prints for the same seed.</p>")
          .arg(QApplication::applicationVersion()));
}

// QSettings
// --------------------------------------------------------------------------------------------------

std::optional<ViewSettings> MainWindow::readSettings() {
  QSettings store(QString::fromLatin1(kOrganization), QString::fromLatin1(kApplication));
  if (store.status() != QSettings::NoError) {
    showStatus(tr("The saved settings could not be read (%1 is damaged); starting from the defaults.")
                   .arg(QDir::toNativeSeparators(store.fileName())),
               0);
    return std::nullopt;
  }
  if (!restoreGeometry(store.value(QStringLiteral("window/geometry")).toByteArray())) {
    // First launch (or damaged geometry): the default size set by the constructor stays.
  }
  restoreState(store.value(QStringLiteral("window/state")).toByteArray());
  m_recentFiles = store.value(QStringLiteral("recentFiles")).toStringList();
  m_recentFiles.removeAll(QString());
  while (m_recentFiles.size() > kMaxRecentFiles) m_recentFiles.removeLast();
  updateRecentMenu();
  m_lastExportDirectory = store.value(QStringLiteral("export/directory")).toString();

  const QVariant saved = store.value(QStringLiteral("session/settings"));
  if (!saved.isValid()) return std::nullopt;
  QJsonParseError parseError;
  const QJsonDocument document = QJsonDocument::fromJson(saved.toString().toUtf8(), &parseError);
  try {
    if (parseError.error != QJsonParseError::NoError || !document.isObject())
      throw Error("not JSON: " + parseError.errorString().toStdString());
    return ViewSettings::fromJson(document.object());
  } catch (const Error& problem) {
    showStatus(tr("The saved settings could not be read (%1); starting from the defaults.")
                   .arg(toQString(problem.what())),
               0);
    return std::nullopt;
  }
}

void MainWindow::writeSettings() {
  QSettings store(QString::fromLatin1(kOrganization), QString::fromLatin1(kApplication));
  store.setValue(QStringLiteral("window/geometry"), saveGeometry());
  store.setValue(QStringLiteral("window/state"), saveState());
  store.setValue(QStringLiteral("recentFiles"), m_recentFiles);
  store.setValue(QStringLiteral("export/directory"), m_lastExportDirectory);
  store.setValue(
      QStringLiteral("session/settings"),
      QString::fromUtf8(QJsonDocument(m_model->settings().toJson()).toJson(QJsonDocument::Compact)));
  store.sync();
}

void MainWindow::closeEvent(QCloseEvent* event) {
  writeSettings();
  m_controller->cancel();
  event->accept();
}

}  // namespace attnscope::ui

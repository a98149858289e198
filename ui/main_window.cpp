#include "main_window.hpp"

#include <QAction>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QScreen>
#include <QStatusBar>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include "help.hpp"
#include "panels/busy_indicator.hpp"
#include "panels/compare_editor.hpp"
#include "panels/detail_panel.hpp"
#include "panels/geometry_panel.hpp"
#include "panels/heads_panel.hpp"
#include "panels/model_overview.hpp"
#include "panels/sentence_editor.hpp"
#include "panels/settings_panel.hpp"
#include "panels/token_chip_view.hpp"
#include "panels/token_strip.hpp"
#include "plot/heatmap_grid.hpp"
#include "resources.hpp"

namespace attnscope::ui {
// Show the busy indicator only for computations a person would notice (internal linkage: it is const).
constexpr int kBusyDelayMs = 150;

MainWindow::MainWindow(std::optional<ViewSettings> initial, QWidget* parent)
    : QMainWindow(parent),
      m_model(new ScopeModel(this)),
      m_controller(new ComputeController(this)),
      m_editor(new SentenceEditor),
      m_compareEditor(new CompareEditor),
      m_strip(new TokenStrip),
      m_grid(new HeatmapGrid),
      m_settingsPanel(new SettingsPanel),
      m_detail(new DetailPanel),
      m_overview(new ModelOverview),
      m_heads(new HeadsPanel),
      m_geometry(new GeometryPanel),
      m_sessions(new SessionController(m_model, m_controller, this)),
      m_exports(new ExportController(m_model, m_grid->plot(), this)),
      m_settingsDock(new QDockWidget(tr("Settings"), this)),
      m_detailDock(new QDockWidget(tr("Selected query"), this)),
      m_overviewDock(new QDockWidget(tr("Model overview: every layer \u00d7 head"), this)),
      m_headsDock(new QDockWidget(tr("Heads"), this)),
      m_geometryDock(new QDockWidget(tr("Geometry"), this)),
      m_summary(new QLabel),
      m_busy(new BusyIndicator),
      m_cancelButton(new QToolButton),
      m_busyDelay(new QTimer(this)) {
  initResources();
  setWindowIcon(QIcon(QStringLiteral(":/attnscope/icons/attnscope.svg")));
  setObjectName(QStringLiteral("MainWindow"));
  m_sessions->setSuggestedFolder([this] { return m_exports->directory(); });

  auto* central = new QWidget;
  auto* layout = new QVBoxLayout(central);
  layout->setContentsMargins(8, 8, 8, 4);
  layout->setSpacing(6);
  layout->addWidget(m_editor);
  layout->addWidget(m_compareEditor);
  layout->addWidget(m_strip);
  layout->addWidget(m_grid, 1);
  setCentralWidget(central);

  const auto dock = [this](QDockWidget* dock, const char* name, QWidget* content, Qt::DockWidgetArea area) {
    dock->setObjectName(QString::fromLatin1(name));
    dock->setWidget(content);
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable);
    addDockWidget(area, dock);
  };
  dock(m_settingsDock, "settingsDock", m_settingsPanel, Qt::LeftDockWidgetArea);
  dock(m_detailDock, "detailDock", m_detail, Qt::RightDockWidgetArea);
  dock(m_overviewDock, "overviewDock", m_overview, Qt::RightDockWidgetArea);
  dock(m_headsDock, "headsDock", m_heads, Qt::RightDockWidgetArea);
  dock(m_geometryDock, "geometryDock", m_geometry, Qt::RightDockWidgetArea);
  tabifyDockWidget(m_headsDock, m_geometryDock);
  tabifyDockWidget(m_headsDock, m_detailDock);  // the selected query's tab in front
  m_overviewDock->hide();                       // shown while a model is open
  resizeDocks({m_settingsDock, m_detailDock}, {m_settingsPanel->sizeHint().width(), 370}, Qt::Horizontal);
  m_defaultState = saveState();

  buildActions();
  buildMenus();
  buildStatusBar();

  const QRect screen = QGuiApplication::primaryScreen()
                           ? QGuiApplication::primaryScreen()->availableGeometry()
                           : QRect(0, 0, 1600, 1000);
  resize(std::min(1800, screen.width() * 96 / 100), std::min(1120, screen.height() * 94 / 100));
  m_saved.restore(this);
  if (!m_saved.problem.isEmpty()) showStatus(m_saved.problem, 0);
  m_sessions->setRecentFiles(m_saved.recentFiles);
  m_exports->setLastDirectory(m_saved.exportDirectory);
  m_grid->setFitAllHeads(m_saved.fitAllHeads);

  // The model holds the first settings before the views subscribe: they start from them.
  const ViewSettings settings = initial.value_or(m_saved.settings.value_or(ViewSettings::defaults()));
  m_model->setSettings(settings);
  m_settingsPanel->setModel(m_model);
  m_editor->setModel(m_model);
  m_compareEditor->setModel(m_model);
  m_strip->setModel(m_model);
  m_grid->setModel(m_model);
  m_detail->setModel(m_model);
  m_overview->setModel(m_model);
  m_heads->setModel(m_model);
  m_geometry->setModel(m_model);
  setTabOrder(m_editor, m_strip->chips());  // the sentence, its tokens, the maps (either mode), the settings
  setTabOrder(m_strip->chips(), m_grid->plot());
  setTabOrder(m_grid->plot(), m_grid->figureView());
  setTabOrder(m_grid->figureView(), m_settingsPanel);
  connectModel();
  m_controller->requestNow(settings);
  setWindowModified(false);
}

MainWindow::~MainWindow() = default;

void MainWindow::buildActions() {
  m_openModelAction = new QAction(tr("Open &Model\u2026"), this);
  m_openModelAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
  m_openModelAction->setToolTip(tr("A GPT-2 folder: config.json, model.safetensors, vocab.json, merges.txt"));
  connect(m_openModelAction, &QAction::triggered, this, &MainWindow::openModelDialog);

  m_closeModelAction = new QAction(tr("C&lose Model"), this);
  m_closeModelAction->setEnabled(false);
  connect(m_closeModelAction, &QAction::triggered, this, &MainWindow::closeModel);

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
  file->addAction(m_sessions->openAction());
  file->addMenu(m_sessions->recentMenu());
  m_sessions->fillExampleMenu(file->addMenu(tr("Open &Example")));
  file->addSeparator();
  file->addAction(m_openModelAction);
  file->addAction(m_closeModelAction);
  file->addSeparator();
  file->addAction(m_sessions->saveAction());
  file->addAction(m_sessions->saveAsAction());
  file->addSeparator();
  file->addAction(m_exports->imageAction());
  file->addAction(m_exports->eachMapAction());
  file->addAction(m_exports->csvAction());
  file->addAction(m_exports->jsonAction());
  file->addSeparator();
  file->addAction(m_quitAction);

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  edit->addAction(m_exports->copyAction());
  QAction* focusText = edit->addAction(tr("Edit the &Sentence"));
  focusText->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
  connect(focusText, &QAction::triggered, this, [this] {
    m_editor->setFocus();
    m_editor->selectAll();
  });
  edit->addSeparator();
  edit->addAction(m_cancelAction);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (QDockWidget* dock : {m_settingsDock, m_detailDock, m_overviewDock, m_headsDock, m_geometryDock})
    view->addAction(dock->toggleViewAction());
  view->addSeparator();
  view->addAction(m_grid->fitAction());
  view->addAction(m_compareEditor->toggleAction());
  QAction* reset = view->addAction(tr("&Reset Layout"));
  connect(reset, &QAction::triggered, this, [this] {
    restoreState(m_defaultState);
    m_settingsDock->show();
    m_detailDock->show();
  });

  fillHelpMenu(menuBar()->addMenu(tr("&Help")), this);
}

void MainWindow::buildStatusBar() {
  m_busy->setObjectName(QStringLiteral("busyIndicator"));
  m_busy->setFixedSize(m_busy->sizeHint());
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
  connect(m_model, &ScopeModel::settingsChanged, this, [this](const ViewSettings& settings) {
    m_closeModelAction->setEnabled(!settings.modelFolder.isEmpty());
    m_controller->request(settings);
  });
  connect(m_model, &ScopeModel::snapshotChanged, this, &MainWindow::onSnapshotChanged);
  connect(m_overview, &ModelOverview::mapClicked, this,
          [this](int layer, int head) { showHead(m_overview->maskRow(), layer, head); });
  connect(m_heads, &HeadsPanel::headClicked, this, &MainWindow::showHead);
  connect(m_settingsPanel, &SettingsPanel::openModelRequested, this, &MainWindow::openModelDialog);
  connect(m_settingsPanel, &SettingsPanel::closeModelRequested, this, &MainWindow::closeModel);
  const auto status = [this](const QString& message) { showStatus(message); };
  connect(m_sessions, &SessionController::statusMessage, this, status);
  connect(m_exports, &ExportController::statusMessage, this, status);
  connect(m_heads, &HeadsPanel::statusMessage, this, status);
  connect(m_geometry, &GeometryPanel::statusMessage, this, status);

  // The worker prepares each map at the size it is drawn: a long text's maps arrive already reduced.
  m_controller->setMapPixels([this](const ViewSettings& settings) {
    const bool multihead =
        settings.mechanism == Mechanism::multihead || settings.mechanism == Mechanism::multihead_wrapper;
    const int rows = static_cast<int>(std::max<std::size_t>(1, settings.masks.size()) *
                                      std::max<std::size_t>(1, settings.display.quantities.size()));
    return m_grid->plot()->pixelsPerMap(multihead ? settings.heads : 1, rows);
  });
  // The window's messages about a result come before the views show it.
  connect(m_controller, &ComputeController::snapshotReady, this, &MainWindow::onSnapshotReady);
  connect(m_controller, &ComputeController::snapshotReady, m_model, &ScopeModel::setSnapshot);
  connect(m_controller, &ComputeController::comparisonReady, m_model, &ScopeModel::setComparison);
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

void MainWindow::onSnapshotReady(const SnapshotPointer& snapshot) {
  m_settingsPanel->clearFieldErrors();
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
}

void MainWindow::onSnapshotChanged(const SnapshotPointer& snapshot) {
  if (snapshot && snapshot->model) {
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

void MainWindow::showStatus(const QString& message, int milliseconds) {
  m_lastMessage = message;
  statusBar()->showMessage(message, milliseconds);
}

void MainWindow::computeNow(const ViewSettings& settings) {
  m_model->setSettings(settings);
  m_controller->requestNow(settings);
}

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

void MainWindow::showHead(int maskRow, int layer, int head) {
  ViewSettings settings = m_model->settings();
  settings.layer = layer;  // 0 for the book's mechanisms, which have one
  m_model->setSettings(settings);
  m_model->setSelection(QuerySelection{m_model->selection().query, maskRow, head});
  m_grid->ensureMapVisible(maskRow, head);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  m_saved.settings = m_model->settings();
  m_saved.recentFiles = m_sessions->recentFiles();
  m_saved.exportDirectory = m_exports->lastDirectory();
  m_saved.fitAllHeads = m_grid->fitsAllHeads();
  m_saved.save(*this);
  m_exports->cancel();
  m_controller->cancel();
  event->accept();
}

}  // namespace attnscope::ui

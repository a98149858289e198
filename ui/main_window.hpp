#pragma once
// The AttnScope window: the sentence and its tokens on top, the heatmap grid in the middle, the settings on
// the left, the selected query's details on the right. It wires the views to the model and the model to the
// compute controller, and keeps sessions, exports and QSettings.

#include <QMainWindow>
#include <QStringList>
#include <optional>

#include "compute/compute_controller.hpp"
#include "export/exporter.hpp"
#include "state/scope_model.hpp"

class QAction;
class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QToolButton;

namespace attnscope::ui {

class DetailPanel;
class HeatmapGrid;
class ModelOverview;
class SentenceEditor;
class SettingsPanel;
class TokenStrip;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  // With `initial` (settings from the command line) the saved settings are not restored; the window geometry
  // still is.
  explicit MainWindow(std::optional<ViewSettings> initial = std::nullopt, QWidget* parent = nullptr);
  ~MainWindow() override;

  ScopeModel* model() const { return m_model; }
  ComputeController* controller() const { return m_controller; }
  SentenceEditor* editor() const { return m_editor; }
  TokenStrip* tokenStrip() const { return m_strip; }
  HeatmapGrid* grid() const { return m_grid; }
  SettingsPanel* settingsPanel() const { return m_settingsPanel; }
  DetailPanel* detailPanel() const { return m_detail; }
  ModelOverview* overview() const { return m_overview; }
  QString statusSummary() const;
  QString lastStatusMessage() const { return m_lastMessage; }
  QStringList recentFiles() const { return m_recentFiles; }
  QString sessionPath() const { return m_sessionPath; }

  // The menu actions without their dialogs (tests, scripting); false with the reason in `error`.
  bool openSession(const QString& path, QString* error = nullptr);
  bool saveSession(const QString& path, QString* error = nullptr);
  // A built-in example (":/attnscope/presets/…"): its settings, in an untitled session.
  bool openPreset(const QString& path, QString* error = nullptr);
  bool exportImage(const QString& path, const ImageRequest& request,
                   std::optional<MapKey> only = std::nullopt, QString* error = nullptr);
  bool exportEachMap(const QString& folder, const ImageRequest& request, QString* error = nullptr);
  bool exportData(const QString& path, QString* error = nullptr);  // .csv or .json by suffix
  bool copyImage();
  // File ▸ Open Model without its dialog: the worker opens `folder` and shows layer 0. When it cannot, the
  // window says why (naming the file and the problem) and goes back to what it showed before.
  void openModel(const QString& folder);
  void closeModel();  // back to the book's mechanisms

  static constexpr const char* kOrganization = "AttnScope";
  static constexpr const char* kApplication = "AttnScope";

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildActions();
  void buildMenus();
  void buildStatusBar();
  void connectModel();
  std::optional<ViewSettings> readSettings();
  void writeSettings();
  void rememberRecent(const QString& path);
  void updateRecentMenu();
  void buildPresetMenu(QMenu* menu);
  void updateTitle();
  void showStatus(const QString& message, int milliseconds = 8000);
  // Shows `settings` and computes them at once, without the typing debounce: a whole new view.
  void computeNow(const ViewSettings& settings);
  // Shows the settings of a session or preset file; false, with the reason in `error`, when it does not open.
  bool showSessionFile(const QString& path, QString* error);

  void onSettingsChanged(const ViewSettings& settings);
  void onSnapshotChanged(const SnapshotPointer& snapshot);
  void onHoverChanged(int query, int key);
  void onSelectionChanged(const QuerySelection& selection);
  void onSnapshotReady(const SnapshotPointer& snapshot);
  void onComputeFailed(SettingsField field, const QString& message);
  void onBusyChanged(bool busy);

  void openModelDialog();
  void onOverviewClicked(int layer, int head);
  void openSessionDialog();
  void saveSessionDialog(bool choosePath);
  void exportImageDialog(bool eachMap);
  void exportDataDialog(const QString& suffix);
  void showShortcuts();
  void showAbout();
  QString exportDirectory() const;

  ScopeModel* m_model;
  ComputeController* m_controller;
  SentenceEditor* m_editor;
  TokenStrip* m_strip;
  HeatmapGrid* m_grid;
  SettingsPanel* m_settingsPanel;
  DetailPanel* m_detail;
  ModelOverview* m_overview;
  QDockWidget* m_settingsDock;
  QDockWidget* m_detailDock;
  QDockWidget* m_overviewDock;

  QLabel* m_summary;
  QProgressBar* m_busy;
  QToolButton* m_cancelButton;
  QTimer* m_busyDelay;
  // A new snapshot's detail panel is filled in an event of its own, after the heatmaps are painted: the GUI
  // thread never does both in one go.
  QTimer* m_detailDelay;
  bool m_detailFollowsSnapshot = false;

  QAction* m_openAction = nullptr;
  QAction* m_openModelAction = nullptr;
  QAction* m_closeModelAction = nullptr;
  QAction* m_saveAction = nullptr;
  QAction* m_saveAsAction = nullptr;
  QAction* m_exportAction = nullptr;
  QAction* m_exportEachAction = nullptr;
  QAction* m_exportCsvAction = nullptr;
  QAction* m_exportJsonAction = nullptr;
  QAction* m_copyAction = nullptr;
  QAction* m_cancelAction = nullptr;
  QAction* m_quitAction = nullptr;
  QMenu* m_recentMenu = nullptr;

  DisplayOptions m_display;
  QString m_sessionPath;
  QStringList m_recentFiles;
  QString m_lastMessage;
  QString m_openingModel;  // the folder File ▸ Open Model asked for, until it computes or fails
  QString
      m_modelProblem;  // why the last model could not be opened, shown over the view the window went back to
  QString m_lastExportDirectory;
  QByteArray m_defaultState;
};

}  // namespace attnscope::ui

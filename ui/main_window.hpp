#pragma once
// The AttnScope window: the sentence and its tokens on top, the heatmap grid in the middle, the settings on
// the left, the selected query's details on the right. It lays the views out (each subscribes to the
// ScopeModel itself), wires the actions and reports computations in the status bar; sessions, exports and
// what the next launch restores have classes of their own.

#include <QMainWindow>
#include <QStringList>
#include <optional>

#include "compute/compute_controller.hpp"
#include "export/export_controller.hpp"
#include "session/session_controller.hpp"
#include "state/scope_model.hpp"
#include "state/window_settings.hpp"

class QAction;
class QDockWidget;
class QLabel;
class QToolButton;

namespace attnscope::ui {

class BusyIndicator;
class CompareEditor;
class DetailPanel;
class GeometryPanel;
class HeadsPanel;
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
  SessionController* sessions() const { return m_sessions; }
  ExportController* exports() const { return m_exports; }
  SentenceEditor* editor() const { return m_editor; }
  CompareEditor* compareEditor() const { return m_compareEditor; }
  TokenStrip* tokenStrip() const { return m_strip; }
  HeatmapGrid* grid() const { return m_grid; }
  SettingsPanel* settingsPanel() const { return m_settingsPanel; }
  DetailPanel* detailPanel() const { return m_detail; }
  ModelOverview* overview() const { return m_overview; }
  HeadsPanel* heads() const { return m_heads; }
  GeometryPanel* geometry() const { return m_geometry; }
  QString statusSummary() const {
    return m_model->snapshot() ? m_model->snapshot()->summary() : tr("no tokens");
  }
  QString lastStatusMessage() const { return m_lastMessage; }
  QStringList recentFiles() const { return m_sessions->recentFiles(); }
  QString sessionPath() const { return m_sessions->sessionPath(); }

  // The menu actions without their dialogs (tests, scripting); false with the reason in `error`.
  bool openSession(const QString& path, QString* error = nullptr) {
    return m_sessions->openSession(path, error);
  }
  bool saveSession(const QString& path, QString* error = nullptr) {
    return m_sessions->saveSession(path, error);
  }
  // A built-in example (":/attnscope/presets/…"): its settings, in an untitled session.
  bool openPreset(const QString& path, QString* error = nullptr) {
    return m_sessions->openPreset(path, error);
  }
  // Exports in the background as the menu does and waits for the file (the event loop runs meanwhile).
  bool exportImage(const QString& path, const ImageRequest& request,
                   std::optional<MapKey> only = std::nullopt, QString* error = nullptr) {
    m_exports->exportImage(path, request, only);
    return m_exports->waitForFinished(error);
  }
  bool exportEachMap(const QString& folder, const ImageRequest& request, QString* error = nullptr) {
    m_exports->exportEachMap(folder, request);
    return m_exports->waitForFinished(error);
  }
  bool exportData(const QString& path, QString* error = nullptr) {  // .csv or .json by suffix
    m_exports->exportData(path);
    return m_exports->waitForFinished(error);
  }
  bool copyImage() { return m_exports->copyImage(); }
  // File ▸ Open Model without its dialog: the worker opens `folder` and shows layer 0. When it cannot, the
  // window says why (naming the file and the problem) and goes back to what it showed before.
  void openModel(const QString& folder);
  void closeModel();  // back to the book's mechanisms

  static constexpr const char* kOrganization = WindowSettings::kOrganization;
  static constexpr const char* kApplication = WindowSettings::kApplication;

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildActions();
  void buildMenus();
  void buildStatusBar();
  void connectModel();
  void showStatus(const QString& message, int milliseconds = 8000);
  // Shows `settings` and computes them at once, without the typing debounce: a whole new view.
  void computeNow(const ViewSettings& settings);

  void onSnapshotReady(const SnapshotPointer& snapshot);
  void onSnapshotChanged(const SnapshotPointer& snapshot);
  void onComputeFailed(SettingsField field, const QString& message);
  void onBusyChanged(bool busy);
  void openModelDialog();
  // Shows a head of the overview or the Heads table in the grid, switching a model's layer when needed.
  void showHead(int maskRow, int layer, int head);

  ScopeModel* m_model;
  ComputeController* m_controller;
  SentenceEditor* m_editor;
  CompareEditor* m_compareEditor;
  TokenStrip* m_strip;
  HeatmapGrid* m_grid;
  SettingsPanel* m_settingsPanel;
  DetailPanel* m_detail;
  ModelOverview* m_overview;
  HeadsPanel* m_heads;
  GeometryPanel* m_geometry;
  SessionController* m_sessions;
  ExportController* m_exports;
  QDockWidget* m_settingsDock;
  QDockWidget* m_detailDock;
  QDockWidget* m_overviewDock;
  QDockWidget* m_headsDock;
  QDockWidget* m_geometryDock;

  QLabel* m_summary;
  BusyIndicator* m_busy;
  QToolButton* m_cancelButton;
  QTimer* m_busyDelay;

  QAction* m_openModelAction = nullptr;
  QAction* m_closeModelAction = nullptr;
  QAction* m_cancelAction = nullptr;
  QAction* m_quitAction = nullptr;

  WindowSettings m_saved;
  QString m_lastMessage;
  QString m_openingModel;  // the folder File ▸ Open Model asked for, until it computes or fails
  QString
      m_modelProblem;  // why the last model could not be opened, shown over the view the window went back to
  QByteArray m_defaultState;
};

}  // namespace attnscope::ui

#pragma once
// File ▸ Open/Save Session, Open Recent and Open Example, and what the window's title says: the session's
// name, with [*] while the settings differ from the file.

#include <QObject>
#include <QStringList>
#include <functional>

#include "compute/compute_controller.hpp"
#include "state/scope_model.hpp"

class QAction;
class QMenu;
class QWidget;

namespace attnscope::ui {

class SessionController : public QObject {
  Q_OBJECT

 public:
  // `window` is titled and parents the dialogs; a session shows its settings in `model` and computes them at
  // once through `compute`.
  SessionController(ScopeModel* model, ComputeController* compute, QWidget* window);

  QAction* openAction() const { return m_openAction; }
  QAction* saveAction() const { return m_saveAction; }
  QAction* saveAsAction() const { return m_saveAsAction; }
  QMenu* recentMenu() const { return m_recentMenu; }
  // Fills `menu` with the built-in examples (":/attnscope/presets/…"), by title.
  void fillExampleMenu(QMenu* menu);
  // Where Save Session suggests a file when there is none yet.
  void setSuggestedFolder(std::function<QString()> folder) { m_suggestedFolder = std::move(folder); }

  QString sessionPath() const { return m_sessionPath; }
  QStringList recentFiles() const { return m_recentFiles; }
  void setRecentFiles(const QStringList& paths);

  // The menu actions without their dialogs (tests, the command line); false with the reason in `error`.
  bool openSession(const QString& path, QString* error = nullptr);
  bool saveSession(const QString& path, QString* error = nullptr);
  bool openPreset(const QString& path, QString* error = nullptr);

 signals:
  void statusMessage(const QString& message);

 private:
  bool showSessionFile(const QString& path, QString* error);
  void openDialog();
  void saveDialog(bool choosePath);
  void rememberRecent(const QString& path);
  void updateRecentMenu();
  void updateTitle();

  ScopeModel* m_model;
  ComputeController* m_compute;
  QWidget* m_window;
  QAction* m_openAction;
  QAction* m_saveAction;
  QAction* m_saveAsAction;
  QMenu* m_recentMenu;
  std::function<QString()> m_suggestedFolder;
  QString m_sessionPath;
  QStringList m_recentFiles;
};

}  // namespace attnscope::ui

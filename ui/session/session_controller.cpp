#include "session/session_controller.hpp"

#include <QAction>
#include <QCollator>
#include <QDir>
#include <QDirIterator>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMenu>
#include <QMessageBox>
#include <algorithm>
#include <utility>
#include <vector>

#include "session/session_file.hpp"
#include "state/window_settings.hpp"
#include "text.hpp"

namespace attnscope::ui {
namespace {

QString sessionFilter() {
  return QObject::tr("AttnScope sessions (*.attnscope);;All files (*)");
}

void setError(QString* error, const QString& message) {
  if (error) *error = message;
}

}  // namespace

SessionController::SessionController(ScopeModel* model, ComputeController* compute, QWidget* window)
    : QObject(window),
      m_model(model),
      m_compute(compute),
      m_window(window),
      m_openAction(new QAction(tr("&Open Session\u2026"), this)),
      m_saveAction(new QAction(tr("&Save Session"), this)),
      m_saveAsAction(new QAction(tr("Save Session &As\u2026"), this)),
      m_recentMenu(new QMenu(tr("Open &Recent"), window)),
      m_suggestedFolder([] { return QDir::homePath(); }) {
  m_openAction->setShortcut(QKeySequence::Open);
  connect(m_openAction, &QAction::triggered, this, &SessionController::openDialog);
  m_saveAction->setShortcut(QKeySequence::Save);
  connect(m_saveAction, &QAction::triggered, this, [this] { saveDialog(false); });
  m_saveAsAction->setShortcut(QKeySequence::SaveAs);
  connect(m_saveAsAction, &QAction::triggered, this, [this] { saveDialog(true); });
  connect(model, &ScopeModel::settingsChanged, this, [this] { m_window->setWindowModified(true); });
  updateRecentMenu();
  updateTitle();
}

void SessionController::setRecentFiles(const QStringList& paths) {
  m_recentFiles = paths;
  updateRecentMenu();
}

bool SessionController::showSessionFile(const QString& path, QString* error) {
  ViewSettings settings;
  try {
    settings = SessionFile::load(path);
  } catch (const Error& problem) {
    setError(error, toQString(problem.what()));
    return false;
  }
  m_model->setSettings(settings);
  m_compute->requestNow(settings);
  return true;
}

bool SessionController::openSession(const QString& path, QString* error) {
  if (!showSessionFile(path, error)) return false;
  m_sessionPath = path;
  rememberRecent(path);
  m_window->setWindowModified(false);
  updateTitle();
  emit statusMessage(tr("Opened %1.").arg(QFileInfo(path).fileName()));
  return true;
}

bool SessionController::saveSession(const QString& path, QString* error) {
  try {
    SessionFile::save(path, m_model->settings());
  } catch (const Error& problem) {
    setError(error, toQString(problem.what()));
    return false;
  }
  m_sessionPath = path;
  rememberRecent(path);
  m_window->setWindowModified(false);
  updateTitle();
  emit statusMessage(tr("Saved %1.").arg(QFileInfo(path).fileName()));
  return true;
}

bool SessionController::openPreset(const QString& path, QString* error) {
  if (!showSessionFile(path, error)) return false;
  m_sessionPath.clear();
  updateTitle();
  return true;
}

void SessionController::fillExampleMenu(QMenu* menu) {
  std::vector<std::pair<QString, QString>> examples;  // title, path
  QDirIterator presets(QStringLiteral(":/attnscope/presets"));
  while (presets.hasNext()) {
    const QString path = presets.next();
    QFile file(path);
    QString title = QFileInfo(path).completeBaseName();
    if (file.open(QIODevice::ReadOnly)) {
      const QJsonObject json = QJsonDocument::fromJson(file.readAll()).object();
      title = json.value(QStringLiteral("title")).toString(title);
    }
    examples.emplace_back(title, path);
  }
  // In the book's order: by title, numbers compared as numbers ("Book 3.3" … "Book 3.6"), not by file name.
  QCollator collator;
  collator.setNumericMode(true);
  std::sort(examples.begin(), examples.end(),
            [&](const auto& a, const auto& b) { return collator.compare(a.first, b.first) < 0; });
  for (const auto& [title, path] : examples) {
    QAction* action = menu->addAction(title);
    connect(action, &QAction::triggered, this, [this, path, title] {
      QString error;
      if (openPreset(path, &error))
        emit statusMessage(tr("Example: %1.").arg(title));
      else
        QMessageBox::warning(m_window, tr("Cannot Open Example"), error);
    });
  }
}

void SessionController::openDialog() {
  const QString path = QFileDialog::getOpenFileName(m_window, tr("Open Session"),
                                                    QFileInfo(m_sessionPath).path(), sessionFilter());
  if (path.isEmpty()) return;
  QString error;
  if (!openSession(path, &error)) QMessageBox::warning(m_window, tr("Cannot Open Session"), error);
}

void SessionController::saveDialog(bool choosePath) {
  QString path = m_sessionPath;
  if (choosePath || path.isEmpty()) {
    const QString suggested =
        path.isEmpty() ? QDir(m_suggestedFolder()).filePath(QStringLiteral("session.attnscope")) : path;
    path = QFileDialog::getSaveFileName(m_window, tr("Save Session"), suggested, sessionFilter());
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".attnscope");
  }
  QString error;
  if (!saveSession(path, &error)) QMessageBox::warning(m_window, tr("Cannot Save Session"), error);
}

void SessionController::rememberRecent(const QString& path) {
  const QString absolute = QFileInfo(path).absoluteFilePath();
  m_recentFiles.removeAll(absolute);
  m_recentFiles.prepend(absolute);
  while (m_recentFiles.size() > WindowSettings::kMaxRecentFiles) m_recentFiles.removeLast();
  updateRecentMenu();
}

void SessionController::updateRecentMenu() {
  m_recentMenu->clear();
  for (int i = 0; i < m_recentFiles.size(); ++i) {
    const QString path = m_recentFiles.at(i);
    QAction* action =
        m_recentMenu->addAction(QStringLiteral("&%1  %2").arg(i + 1).arg(QFileInfo(path).fileName()));
    action->setToolTip(path);
    connect(action, &QAction::triggered, this, [this, path] {
      QString error;
      if (!openSession(path, &error)) {
        QMessageBox::warning(m_window, tr("Cannot Open Session"), error);
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

void SessionController::updateTitle() {
  const QString name = m_sessionPath.isEmpty() ? tr("Untitled") : QFileInfo(m_sessionPath).fileName();
  m_window->setWindowTitle(QStringLiteral("%1[*] \u2014 AttnScope").arg(name));
}

}  // namespace attnscope::ui

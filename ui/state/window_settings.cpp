#include "state/window_settings.hpp"

#include <QDir>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMainWindow>
#include <QSettings>

#include "attnscope/error.hpp"
#include "text.hpp"

namespace attnscope::ui {
void WindowSettings::restore(QMainWindow* window) {
  settings.reset();
  problem.clear();
  QSettings saved(QString::fromLatin1(kOrganization), QString::fromLatin1(kApplication));
  if (saved.status() != QSettings::NoError) {
    problem = QObject::tr("The saved settings could not be read (%1 is damaged); starting from the defaults.")
                  .arg(QDir::toNativeSeparators(saved.fileName()));
    return;
  }
  // On the first launch (or with damaged geometry) the window keeps the size it was given.
  window->restoreGeometry(saved.value(QStringLiteral("window/geometry")).toByteArray());
  window->restoreState(saved.value(QStringLiteral("window/state")).toByteArray());
  recentFiles = saved.value(QStringLiteral("recentFiles")).toStringList();
  recentFiles.removeAll(QString());
  while (recentFiles.size() > kMaxRecentFiles) recentFiles.removeLast();
  exportDirectory = saved.value(QStringLiteral("export/directory")).toString();
  fitAllHeads = saved.value(QStringLiteral("view/fitAllHeads"), false).toBool();

  const QVariant last = saved.value(QStringLiteral("session/settings"));
  if (!last.isValid()) return;
  QJsonParseError parseError;
  const QJsonDocument document = QJsonDocument::fromJson(last.toString().toUtf8(), &parseError);
  try {
    if (parseError.error != QJsonParseError::NoError || !document.isObject())
      throw Error("not JSON: " + parseError.errorString().toStdString());
    settings = ViewSettings::fromJson(document.object());
  } catch (const Error& error) {
    problem = QObject::tr("The saved settings could not be read (%1); starting from the defaults.")
                  .arg(toQString(error.what()));
  }
}

void WindowSettings::save(const QMainWindow& window) const {
  QSettings saved(QString::fromLatin1(kOrganization), QString::fromLatin1(kApplication));
  saved.setValue(QStringLiteral("window/geometry"), window.saveGeometry());
  saved.setValue(QStringLiteral("window/state"), window.saveState());
  saved.setValue(QStringLiteral("recentFiles"), recentFiles);
  saved.setValue(QStringLiteral("export/directory"), exportDirectory);
  saved.setValue(QStringLiteral("view/fitAllHeads"), fitAllHeads);
  if (settings)
    saved.setValue(QStringLiteral("session/settings"),
                   QString::fromUtf8(QJsonDocument(settings->toJson()).toJson(QJsonDocument::Compact)));
  saved.sync();
}

}  // namespace attnscope::ui

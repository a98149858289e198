#include "session/session_file.hpp"

#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <cmath>
#include <string_view>

#include "attnscope/atomic_file.hpp"
#include "attnscope/error.hpp"

namespace attnscope::ui {
namespace {

const QString kFormatName = QStringLiteral("attnscope-session");

[[noreturn]] void fail(const QString& name, const QString& problem) {
  throw Error(QStringLiteral("%1: %2").arg(name, problem).toStdString());
}

}  // namespace

QByteArray SessionFile::toBytes(const ViewSettings& settings) {
  QJsonObject json;
  json[QStringLiteral("format")] = kFormatName;
  json[QStringLiteral("version")] = kFormatVersion;
  json[QStringLiteral("settings")] = settings.toJson();
  return QJsonDocument(json).toJson(QJsonDocument::Indented);
}

ViewSettings SessionFile::fromBytes(const QByteArray& bytes, const QString& name) {
  QJsonParseError error;
  const QJsonDocument document = QJsonDocument::fromJson(bytes, &error);
  if (error.error != QJsonParseError::NoError)
    fail(name, QStringLiteral("not a session file (JSON error at byte %1: %2)")
                   .arg(error.offset)
                   .arg(error.errorString()));
  const QJsonObject json = document.object();
  if (!document.isObject() || json.value(QStringLiteral("format")).toString() != kFormatName)
    fail(name, QStringLiteral("not an AttnScope session file"));
  const QJsonValue version = json.value(QStringLiteral("version"));
  if (!version.isDouble() || version.toDouble() < 1 || version.toDouble() != std::floor(version.toDouble()))
    fail(name, QStringLiteral("the session has no valid format version"));
  if (version.toDouble() > kFormatVersion)
    fail(name,
         QStringLiteral("this session was saved by a newer AttnScope (format version %1; this version reads "
                        "up to %2). Nothing was loaded: open it with a newer AttnScope.")
             .arg(version.toDouble(), 0, 'g', 17)
             .arg(kFormatVersion));
  const QJsonValue settings = json.value(QStringLiteral("settings"));
  if (!settings.isObject()) fail(name, QStringLiteral("the session has no settings"));
  try {
    return ViewSettings::fromJson(settings.toObject());
  } catch (const Error& problem) {
    fail(name, QString::fromStdString(problem.what()));
  }
}

// Not Exporter::writeFile, which would bring Qt Gui: the session reader and writer need only Qt Core, so that
// tests/fuzz can build them without the GUI.
void SessionFile::save(const QString& path, const ViewSettings& settings) {
  const QByteArray bytes = toBytes(settings);
  write_file_atomically(QFile::encodeName(path).toStdString(),
                        std::string_view(bytes.constData(), static_cast<std::size_t>(bytes.size())));
}

ViewSettings SessionFile::load(const QString& path) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly)) fail(path, QStringLiteral("cannot open: %1").arg(file.errorString()));
  constexpr qint64 kLargest = 64 * 1024 * 1024;
  if (file.size() > kLargest) fail(path, QStringLiteral("too large for a session file"));
  return fromBytes(file.readAll(), QFileInfo(path).fileName());
}

}  // namespace attnscope::ui

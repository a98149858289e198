#pragma once
// A .attnscope session: the text and every setting, as JSON. A file from a newer AttnScope is refused with a
// clear message and never half-loaded.

#include <QString>

#include "state/view_settings.hpp"

namespace attnscope::ui {

class SessionFile {
 public:
  static constexpr int kFormatVersion = 1;
  static constexpr const char* kSuffix = "attnscope";

  // Throws attnscope::Error with the reason (unwritable folder, full disk); never leaves a partial file.
  static void save(const QString& path, const ViewSettings& settings);
  // Throws attnscope::Error: missing or unreadable file, not JSON, not a session, a newer version, a bad
  // setting. Nothing is applied unless the whole file reads.
  static ViewSettings load(const QString& path);

  static QByteArray toBytes(const ViewSettings& settings);
  static ViewSettings fromBytes(const QByteArray& bytes, const QString& name);
};

}  // namespace attnscope::ui

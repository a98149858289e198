#pragma once
// What the next launch restores, in QSettings: the window's geometry and docks, the recent sessions, the
// last export folder, whether the maps fit the window (View ▸ Fit All Heads) and the last settings (text
// included).

#include <QString>
#include <QStringList>
#include <optional>

#include "state/view_settings.hpp"

class QMainWindow;

namespace attnscope::ui {

class WindowSettings {
 public:
  static constexpr const char* kOrganization = "AttnScope";
  static constexpr const char* kApplication = "AttnScope";
  static constexpr int kMaxRecentFiles = 8;

  // Restores the geometry and dock state of `window` and reads the rest. The settings are empty on the first
  // launch and when they cannot be read; `problem` then says why, if they were damaged.
  void restore(QMainWindow* window);
  void save(const QMainWindow& window) const;

  std::optional<ViewSettings> settings;
  QStringList recentFiles;
  QString exportDirectory;
  bool fitAllHeads = false;
  QString problem;
};

}  // namespace attnscope::ui

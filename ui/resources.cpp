#include "resources.hpp"

#include <QtCore/QtGlobal>

// Q_INIT_RESOURCE must be used outside any namespace.
static void initAttnscopeResources() {
  Q_INIT_RESOURCE(attnscope);
}

namespace attnscope::ui {

void initResources() {
  static const bool done = [] {
    initAttnscopeResources();
    return true;
  }();
  (void)done;
}

}  // namespace attnscope::ui

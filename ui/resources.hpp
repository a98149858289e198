#pragma once
// The compiled-in resources (icon, presets) live in a static library: register them before first use.

namespace attnscope::ui {

void initResources();

}  // namespace attnscope::ui

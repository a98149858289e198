#!/usr/bin/env bash
# The layers run one way, engine ← ui ← app: nothing under engine/ includes Qt, QCustomPlot or a header of
# ui/ or app/; nothing under ui/ includes a header of app/ (support/, bench/, gui/). Prints each include that
# runs the wrong way and exits 1 when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
wrong=$(
  grep -rnE '#include\s*[<"](Q[A-Za-z]+|qcustomplot\.h|(state|compute|plot|panels|export|session)/|main_window\.hpp|support/|bench/|gui/)' \
    engine --include='*.hpp' --include='*.cpp' --include='*.h' --include='*.cu' || true
  grep -rnE '#include\s*"(support|bench|gui)/' ui --include='*.hpp' --include='*.cpp' || true
)
if [[ -n $wrong ]]; then
  echo "includes that run against the layers (engine <- ui <- app):"
  echo "$wrong"
  exit 1
fi
echo "the layers run one way: engine <- ui <- app"

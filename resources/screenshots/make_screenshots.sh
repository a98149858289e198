#!/bin/sh
# Makes the README's screenshots of the window with the real app, without a display: the launch view, and
# the chapter 3 multi-head mechanism with 12 heads fitted into the window with the Heads dock probing
# "journey" → "Your", the query/key geometry of the book's d_out = 2 head with "journey" selected, and
# Compare: "…too tired" against "…too wide", with the Heads dock's TV column.
# Usage: resources/screenshots/make_screenshots.sh [build folder]   (default: build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-"$here/../../build"}
cmake --build "$build" --target window_screenshot
tool="$build/bin/window_screenshot"
"$tool" "$here/window.png" --size 1600x1000
"$tool" "$here/finding-heads.png" --size 1600x1000 --heads 12 --d-out 24 --fit --query 1 --probe 0 --heads-dock
"$tool" "$here/geometry.png" --size 1600x1000 --heads 1 --d-out 2 --query 1 --geometry-dock
"$tool" "$here/compare.png" --size 1600x1000 --heads-dock \
  --text "The animal did not cross the street because it was too tired" \
  --compare-text "The animal did not cross the street because it was too wide"

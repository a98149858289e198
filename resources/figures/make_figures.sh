#!/bin/sh
# Makes the README's example figures with the project's own headless export: the chapter 3 multi-head
# mechanism with 12 heads, masks none and causal, raw scores and weights, at each figure preset.
# Usage: resources/figures/make_figures.sh [path/to/attnscope]   (default: build/bin/attnscope)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
app=${1:-"$here/../../build/bin/attnscope"}
for figure in slide column page; do
  QT_QPA_PLATFORM=offscreen "$app" --mechanism multihead --heads 12 --d-out 24 --masks none,causal \
    --show both --figure "$figure" --export "$here/heads12-$figure.png"
done

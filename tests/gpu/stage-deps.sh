#!/usr/bin/env bash
# Copies what an engine-only build needs from this Debian machine's packages (Eigen, CLI11 and nlohmann_json
# headers, utf8proc's and PCRE2's headers and static libraries) into DIR (default build-deps, which git
# ignores), so that it can be carried to a GPU machine without them and passed as -DCMAKE_PREFIX_PATH=$PWD/DIR.
# Usage: tests/gpu/stage-deps.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build-deps}
mkdir -p "$dir/include/eigen3" "$dir/lib"
cp -r /usr/include/eigen3/Eigen "$dir/include/eigen3/"
cp -r /usr/include/CLI /usr/include/nlohmann /usr/include/utf8proc.h /usr/include/pcre2.h "$dir/include/"
cp /usr/lib/x86_64-linux-gnu/libutf8proc.a /usr/lib/x86_64-linux-gnu/libpcre2-8.a "$dir/lib/"
echo "stage-deps: $(du -sh "$dir" | cut -f1) in $dir"

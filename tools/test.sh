#!/usr/bin/env bash
# Second command of README.md, and what CI runs (.ci/run): install any missing dependency, build
# the release preset (planner, CLI, and the runtime against Debian's CPU libtorch) and run every
# test that needs no GPU (ctest -LE gpu): planner unit tests, CLI black-box tests, the regression
# guard over tests/regression/measured, the runtime's CPU tests and the headless-browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
cmake --preset release
cmake --build --preset release
ctest --preset release -LE gpu --timeout 1500

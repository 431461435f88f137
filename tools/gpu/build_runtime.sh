#!/bin/bash
# build_runtime.sh: sourced by the GPU scripts (tools/gpu/bench_runtime_vs_hf.sh,
# tools/gpu/ranking_check.sh) to build zplan with its libtorch runtime on the GPU machine, as
# tools/gpu/check.sh does: the carried Debian packages (.debs: yaml-cpp, CLI11, doctest, nlohmann-json,
# Eigen) unpacked into $SCRATCH/deps (never into /), the PyTorch wheel's libtorch, sm_90, no tests.
# A second call on a warm machine reuses $SCRATCH/build (an incremental build).
#   build_runtime TARGET...   sets B (the build folder); exits 1 naming the failure when a target
#                             does not build. Needs ROOT, SCRATCH, OUT; appends to $OUT/build_rest.txt.
build_runtime() {
  local d=$SCRATCH/deps f tp gen=""
  mkdir -p "$d"
  for f in "$ROOT"/.debs/*.deb; do dpkg -x "$f" "$d"; done
  export LD_LIBRARY_PATH=$d/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
  tp=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
  B=$SCRATCH/build
  command -v ninja >/dev/null && gen="-G Ninja"
  # nvcc for zplan's own kernels (runtime/kernels), where the toolkit is but not on PATH.
  [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ] && export CUDACXX=/usr/local/cuda/bin/nvcc
  # shellcheck disable=SC2086
  cmake -S "$ROOT" -B "$B" $gen -DCMAKE_PREFIX_PATH="$tp;$d/usr" -DCMAKE_BUILD_TYPE=Release -DZPLAN_BUILD_TESTS=OFF \
    -DTORCH_CUDA_ARCH_LIST=9.0 -DCMAKE_CUDA_ARCHITECTURES=90 -DZPLAN_BUILD_RUNTIME=ON >>"$OUT/build_rest.txt" 2>&1
  cmake --build "$B" -j16 --target "$@" >>"$OUT/build_rest.txt" 2>&1 \
    || { echo "!! BUILD FAILED (tail of build_rest.txt):"; tail -30 "$OUT/build_rest.txt"; exit 1; }
}

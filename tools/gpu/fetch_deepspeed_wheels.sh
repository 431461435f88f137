#!/usr/bin/env bash
# Run HERE (a machine with PyPI): downloads the measuring tools the GPU machine lacks — DeepSpeed
# and the packages it needs beyond the GPU machine's image — as files for CPython 3.12 on
# manylinux x86_64, into .whl/ (git-ignored; name it in the device call's `carry`). They are tools
# for measuring, not dependencies of zplan. tools/gpu/install_deepspeed.sh installs them there.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEEPSPEED_VERSION=0.19.8
mkdir -p .whl
SCRATCH=${SCRATCH:-${TMPDIR:-/tmp}/zplan}  # the sdist and its unpacked source
python3 -m pip download -q --no-deps --no-binary=:all: "deepspeed==$DEEPSPEED_VERSION" -d "$SCRATCH/deepspeed_sdist"
rm -rf "$SCRATCH/deepspeed_src" && mkdir -p "$SCRATCH/deepspeed_src"
tar xzf "$SCRATCH/deepspeed_sdist/deepspeed-$DEEPSPEED_VERSION.tar.gz" -C "$SCRATCH/deepspeed_src"
python3 -m pip install -q wheel
# DS_BUILD_OPS=0: no op is compiled here; the GPU machine's DeepSpeed builds them by JIT (nvcc, g++).
(cd "$SCRATCH/deepspeed_src/deepspeed-$DEEPSPEED_VERSION" &&
  DS_BUILD_OPS=0 python3 -m pip wheel -q --no-deps --no-build-isolation . -w "$OLDPWD/.whl")
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
for pkg in pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
           typing-extensions==4.16.0 hjson==3.1.0; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl "$pkg"
done
ls -l .whl

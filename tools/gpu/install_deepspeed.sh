#!/usr/bin/env bash
# Run on the GPU machine (no network), sourced: installs the wheels carried in .whl/
# (tools/gpu/fetch_deepspeed_wheels.sh) into $SCRATCH/site (SCRATCH defaults to ${TMPDIR:-/tmp}/zplan) and puts it on PYTHONPATH.
SCRATCH=${SCRATCH:-${TMPDIR:-/tmp}/zplan}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SCRATCH/site" .whl/*.whl ||
  return 2
export PYTHONPATH=$SCRATCH/site${PYTHONPATH:+:$PYTHONPATH}
export TORCH_EXTENSIONS_DIR=$SCRATCH/torch_extensions   # DeepSpeed's JIT-built ops (CPU Adam)
python3 -c "import deepspeed, pydantic, torch, transformers; print('deepspeed', deepspeed.__version__, 'pydantic', pydantic.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"

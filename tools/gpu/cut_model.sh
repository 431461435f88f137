#!/bin/bash
# cut_model.sh: sourced by the GPU scripts (tools/gpu/ranking_check.sh, tools/gpu/expert_loop_check.sh)
# that train a built-in model cut to a few layers: zplan has no layer-count flag, so a model file
# beside the built-ins is written, named NAME-Nl (tools/gpu/run_records_to_set.py reads it back).
#   cut_model NAME N   writes $SCRATCH/NAME-Nl.yaml from models/NAME.yaml and prints its path.
#                      Needs ROOT and SCRATCH.
cut_model() {
  local f=$SCRATCH/$1-$2l.yaml
  sed -e "s/^name: .*/name: $1-$2l/" -e '/^aliases:/d' -e '/^published_parameters:/d' -e "s/^layers: .*/layers: $2/" \
    "$ROOT/models/$1.yaml" >"$f"
  echo "$f"
}

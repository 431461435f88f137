#!/usr/bin/env bash
# Builds every parser's libFuzzer target with clang under ASan/UBSan (build/fuzz) and runs each for
# FUZZ_SECONDS (default 15; 8 targets = about 2 minutes) from seed corpora made of the repository's
# own files and tests/fuzz/regressions/. The seed is fixed (FUZZ_SEED, default 1) so that a CI run can be
# replayed; set FUZZ_SEED=0 for a random one. A crash, sanitizer report, leak, timeout or uncaught exception fails the run; the input
# that caused it is left in build/fuzz/artifacts/. CI runs this as the ctest `fuzz_parsers` (label fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-15}
build=$root/build/fuzz
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZPLAN_FUZZ=ON \
  -DZPLAN_BUILD_TESTS=OFF -DZPLAN_BUILD_RUNTIME=OFF "${launcher[@]}" >/dev/null
targets=(model_yaml hf_config hardware_yaml scenario_yaml deepspeed_json run_record size safetensors_header)
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}" >/dev/null
seeds=$build/seeds
rm -rf "$seeds" && mkdir -p "$seeds"/{model_yaml,hf_config,hardware_yaml,scenario_yaml,deepspeed_json,run_record,size,safetensors_header} "$build/artifacts"
cp models/*.yaml "$seeds/model_yaml/"
cp tests/data/hf/*.json tests/data/bad/*.json "$seeds/hf_config/"
cp hardware/gpus/*.yaml hardware/clusters/*.yaml "$seeds/hardware_yaml/"
cp configs/*.yaml tests/data/bad/*.yaml "$seeds/scenario_yaml/"
find tests/data/deepspeed -name '*.json' -exec cp {} "$seeds/deepspeed_json/" \;
# Not `sort | head`: head exits early, sort dies of SIGPIPE, and pipefail ends the script silently.
mapfile -t records < <(find tests/regression/measured -name '*.json' | sort)
for f in "${records[@]:0:40}"; do cp "$f" "$seeds/run_record/$(echo "$f" | tr / _)"; done
i=0
for s in 12GiB 512MiB 1.5TiB 12g 12GB 4096 4096B " 64k " 0.5GiB 2TB 12 -1 1e9 0x10 "12 G i B" 99999999999TiB; do
  printf '%s' "$s" > "$seeds/size/$i"; i=$((i + 1))
done
cp tests/data/safetensors/*.safetensors tests/data/hf/bad_checkpoint/model.safetensors "$seeds/safetensors_header/"
# Inputs that once crashed a target stay in its seeds, so the fix is re-checked on every run.
for d in tests/fuzz/regressions/*/; do cp "$d"* "$seeds/$(basename "$d")/"; done
# Paths in scenario seeds (model: x.json) resolve from the repository root.
status=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  mkdir -p "$corpus"
  echo "fuzz: $t for ${seconds}s"
  if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -seed="${FUZZ_SEED:-1}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
      -artifact_prefix="$build/artifacts/${t}-" "$corpus" "$seeds/$t" 2> "$build/fuzz_$t.log"; then
    echo "fuzz: $t FAILED (log: $build/fuzz_$t.log)"; tail -40 "$build/fuzz_$t.log"; status=1
  fi
  grep -E "^#[0-9]+ +DONE" "$build/fuzz_$t.log" || tail -1 "$build/fuzz_$t.log"
done
rm -f "${TMPDIR:-/tmp}"/zplan_fuzz_*  # the inputs tests/fuzz/fuzz_common.h wrote
exit $status

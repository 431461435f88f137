# Black-box tests of the zplan binary: exit statuses (0 fits, 3 OOM, 2 bad input), messages and
# the JSON contract. Each line runs tests/cli/expect.cmake.
function(zplan_cli_test name rc)
  cmake_parse_arguments(ARG "" "MATCH;NOMATCH" "ARGS" ${ARGN})
  # Arguments travel '|'-joined: a ';' would split them in add_test's own command line.
  string(REPLACE ";" "|" joined "${ARG_ARGS}")
  set(defs -DZPLAN=$<TARGET_FILE:zplan> "-DARGS=${joined}" -DRC=${rc})
  if(ARG_MATCH)
    list(APPEND defs "-DMATCH=${ARG_MATCH}")
  endif()
  if(ARG_NOMATCH)
    list(APPEND defs "-DNOMATCH=${ARG_NOMATCH}")
  endif()
  add_test(NAME cli_${name} COMMAND ${CMAKE_COMMAND} ${defs} -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.cmake)
  set_tests_properties(cli_${name} PROPERTIES LABELS cli WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endfunction()

set(D ${CMAKE_CURRENT_SOURCE_DIR}/data)
# ---- the mission's own commands ----
zplan_cli_test(mission_alias 0 ARGS --model qwen3-30b --gpus 8xH100 --seq 16384 MATCH "Chosen plan.*FITS")
zplan_cli_test(mission_explain 0 ARGS --model qwen3-30b-a3b --gpus 8xH100 --seq 16384 --explain
               MATCH "Decision tree.*Baseline.*OOM.*Ulysses.*chosen")
zplan_cli_test(explain_markdown 0 ARGS --model qwen3-30b-a3b --gpus 8xH100 --seq 16384 --explain --format markdown
               MATCH "## Decision tree")
zplan_cli_test(models 0 ARGS models MATCH "qwen3-30b-a3b.*30532122624")
zplan_cli_test(hardware 0 ARGS hardware MATCH "h100-80gb.*3x3080-20g")
# ---- pinned predictions: fits (0) and OOM (3) ----
zplan_cli_test(pinned_fits 0 ARGS check --model qwen3-0.6b --gpus 1xH100 --seq 4096 --precision amp-bf16 --profile hf
               MATCH "FITS")
zplan_cli_test(pinned_oom 3 ARGS --model qwen3-8b --gpus 1xH100 --seq 16384 --zero 0 --ckpt none --micro-batch 1
               --precision amp-bf16 MATCH "OOM: GPU needs")
zplan_cli_test(nothing_fits 3 ARGS --model llama-3.1-70b --gpus 1xH100 --seq 4096 MATCH "What would make it fit")
zplan_cli_test(config_scenario 0 ARGS --config configs/qwen3-30b-a3b_h100x8_16k.yaml MATCH "Chosen plan")
zplan_cli_test(hf_config_json 0 ARGS check --model ${D}/hf/qwen3-8b.json --gpus 8xH100 --seq 4096 --zero 3 --ckpt full
               MATCH "FITS")
zplan_cli_test(host_ram_oom 3 ARGS check --model gpt2-xl --gpus 4xV100 --seq 1024 --zero 2 --offload-optimizer cpu
               --precision fp16 --host-ram 4GiB MATCH "host RAM")
# ---- bad input: exit 2, one clear message naming the flag or file ----
zplan_cli_test(unknown_model 2 ARGS --model qwen3-31b --gpus 8xH100 --seq 4096 MATCH "did you mean.*qwen3-32b")
zplan_cli_test(unknown_gpu 2 ARGS --model qwen3-8b --gpus 8xH1000 --seq 4096 MATCH "--gpus")
zplan_cli_test(missing_seq 2 ARGS --model qwen3-8b --gpus 8xH100 MATCH "--seq")
zplan_cli_test(negative_seq 2 ARGS --model qwen3-8b --gpus 8xH100 --seq -5 MATCH "--seq")
zplan_cli_test(sp_not_dividing_seq 2 ARGS check --model qwen3-8b --gpus 8xH100 --seq 10004 --sp 8 MATCH "not divisible by degree 8")
zplan_cli_test(sp_not_dividing_heads 2 ARGS check --model gpt2 --gpus 8xH100 --seq 1024 --sp 8 MATCH "12 attention heads")
zplan_cli_test(micro_batch_zero 2 ARGS check --model qwen3-8b --gpus 8xH100 --seq 4096 --micro-batch 0 MATCH "--micro-batch")
zplan_cli_test(zero_stage_4 2 ARGS check --model qwen3-8b --gpus 8xH100 --seq 4096 --zero 4 MATCH "--zero")
zplan_cli_test(bad_precision 2 ARGS check --model qwen3-8b --gpus 8xH100 --seq 4096 --precision int8 MATCH "--precision")
zplan_cli_test(bf16_on_v100 2 ARGS check --model gpt2-xl --gpus 4xV100 --seq 1024 --precision bf16 MATCH "no bf16")
zplan_cli_test(absurd_layers 2 ARGS check --model ${D}/bad/absurd_layers.json --gpus 8xH100 --seq 4096
               MATCH "absurd_layers.json")
zplan_cli_test(malformed_json 2 ARGS check --model ${D}/bad/malformed.json --gpus 8xH100 --seq 4096 MATCH "malformed.json")
zplan_cli_test(malformed_scenario 2 ARGS --config ${D}/bad/malformed_scenario.yaml MATCH "malformed_scenario.yaml")
zplan_cli_test(missing_file 2 ARGS --model /nonexistent/config.json --gpus 8xH100 --seq 4096 MATCH "config.json")
zplan_cli_test(unknown_flag 2 ARGS --model qwen3-8b --gpus 8xH100 --seq 4096 --bogus MATCH "bogus")
zplan_cli_test(bad_margin 2 ARGS --model qwen3-8b --gpus 8xH100 --seq 4096 --margin 2 MATCH "--margin")
zplan_cli_test(run_without_fit 3 ARGS --model llama-3.1-70b --gpus 1xH100 --seq 4096 --run MATCH "not running")
# ---- the JSON contract ----
foreach(args "--model|qwen3-30b|--gpus|8xH100|--seq|16384"
             "check|--model|gpt2-xl|--gpus|4xV100|--seq|1024|--zero|2|--precision|fp16"
             "--model|llama-3.1-70b|--gpus|1xH100|--seq|4096")
  string(MD5 h "${args}")
  string(SUBSTRING ${h} 0 6 h)
  add_test(NAME cli_json_contract_${h} COMMAND ${CMAKE_COMMAND} -DZPLAN=$<TARGET_FILE:zplan> "-DARGS=${args}"
           -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/json_contract.cmake)
  set_tests_properties(cli_json_contract_${h} PROPERTIES LABELS cli WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endforeach()
# ---- validate: the regression guard over recorded measurements, and that it can fail ----
zplan_cli_test(validate_rejects_far_measurement 3 ARGS validate ${D}/regression_far MATCH "far_off_peak.*!")
zplan_cli_test(validate_rejects_missing_field 2 ARGS validate ${D}/regression_bad/missing_field MATCH "missing_peak.json.*peak_bytes")
zplan_cli_test(validate_rejects_negative_bytes 2 ARGS validate ${D}/regression_bad/negative MATCH "negative_bytes.json.*negative")
zplan_cli_test(validate_rejects_unknown_model 2 ARGS validate ${D}/regression_bad/unknown_model MATCH "unknown_model.json.*scenario.model")
zplan_cli_test(validate_rejects_bad_drop_logits 2 ARGS validate ${D}/regression_bad/drop_logits_type MATCH "drop_logits_type.json.*scenario.drop_logits")
# ---- the CI guard: every recorded GPU measurement re-predicted within its profile's tolerance ----
# The ratchet (planner/validation/ratchet.h): no record's error may grow by more than one point over
# calibration/accepted_errors.json, and every path's reserved band must still be what verdicts print.
add_test(NAME regression_measured COMMAND $<TARGET_FILE:zplan> validate tests/regression/measured
         --bands calibration/reserved_bands.json --ratchet calibration/accepted_errors.json)
set_tests_properties(regression_measured PROPERTIES LABELS regression WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# ---- DeepSpeed configs as users write them ----
zplan_cli_test(deepspeed_zero2_fits 0 ARGS check --deepspeed ${D}/deepspeed/ds_config_zero2.json --model gpt2-xl --gpus 4xV100
               --seq 1024 MATCH "ZeRO-2.*fp16.*FITS")
zplan_cli_test(deepspeed_stage4 2 ARGS check --deepspeed ${D}/deepspeed/bad/stage4.json --model gpt2-xl --gpus 4xV100
               --seq 1024 MATCH "stage4.json.*zero_optimization.stage")
zplan_cli_test(deepspeed_comments 2 ARGS check --deepspeed ${D}/deepspeed/bad/ds_config_zero2_with_comments.json --model gpt2-xl --gpus 4xV100
               --seq 1024 MATCH "ds_config_zero2_with_comments.json")
# ---- issue 17: the stack predicted, the emitted DeepSpeed config, suggestions that fit, causes ----
zplan_cli_test(profile_follows_stack 0 ARGS check --model qwen3-1.7b --gpus 1xH100 --seq 8192 --ckpt full --precision bf16
               MATCH "^[^\n]*predicting Hugging Face transformers \\+ a plain PyTorch loop \\(--profile hf\\).*FITS: GPU")
# --memory-fraction caps the allocator (torch.cuda.set_per_process_memory_fraction) and goes into the
# emitted launch notes and the printed check command.
zplan_cli_test(memory_fraction_caps_allocator 3 ARGS check --model qwen3-1.7b --gpus 1xH100 --seq 8192 --ckpt full
               --precision bf16 --memory-fraction 0.5 MATCH "OOM: the caching allocator needs .* the memory fraction allows it")
zplan_cli_test(memory_fraction_in_launch_notes 0 ARGS --model llama-3.2-1b --gpus 1xH100 --seq 2048 --memory-fraction 0.9
               --emit-deepspeed ${CMAKE_CURRENT_BINARY_DIR}/fraction_ds.json
               MATCH "set_per_process_memory_fraction\\(0.9\\).*check --deepspeed .* --memory-fraction 0.9")
# 8K tokens leave 140 MiB free, less than the measured band of the path: not a fit users can bet on.
zplan_cli_test(verdict_at_risk 3 ARGS check --model qwen3-4b --gpus 1xH100 --seq 8192 --ckpt full --precision bf16
               MATCH "AT RISK: .* free, less than this path: ±[0-9.]+% = ±[0-9.]+ GiB over [0-9]+ runs")
# (4096 tokens: at 8192 the plan is AT RISK since the zplan path's reserved band widened to 13.7%)
zplan_cli_test(profile_override 0 ARGS check --model qwen3-4b --gpus 1xH100 --seq 4096 --ckpt full --precision bf16 --profile zplan
               MATCH "^[^\n]*predicting zplan's runtime")
zplan_cli_test(mission_stack 0 ARGS --model qwen3-30b --gpus 8xH100 --seq 16384
               MATCH "^Chosen plan for Hugging Face transformers \\+ DeepSpeed")
zplan_cli_test(emit_deepspeed_launch 0 ARGS --model llama-3.2-1b --gpus 1xH100 --seq 2048 --emit-deepspeed ${CMAKE_CURRENT_BINARY_DIR}/emitted_ds.json
               MATCH "Hugging Face transformers \\+ DeepSpeed.*launch \\(Hugging Face Trainer script\\): deepspeed --num_gpus 1 train.py --deepspeed [^ ]+ --per_device_train_batch_size [0-9]+ --gradient_accumulation_steps [0-9]+ --bf16")
zplan_cli_test(emit_deepspeed_ulysses 0 ARGS --model qwen3-30b --gpus 8xH100 --seq 16384 --sp 4 --emit-deepspeed ${CMAKE_CURRENT_BINARY_DIR}/emitted_sp.json
               MATCH "accelerate launch --config_file [^ ]+emitted_sp.json.accelerate.yaml train.py.*--gradient_checkpointing.*sequence_parallel_size")
add_test(NAME cli_emit_then_check COMMAND ${CMAKE_COMMAND} -DZPLAN=$<TARGET_FILE:zplan> -DDIR=${CMAKE_CURRENT_BINARY_DIR}
         -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/emit_then_check.cmake)
set_tests_properties(cli_emit_then_check PROPERTIES LABELS cli WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
add_test(NAME cli_print_config_round_trip COMMAND ${CMAKE_COMMAND} -DZPLAN=$<TARGET_FILE:zplan> -DDIR=${CMAKE_CURRENT_BINARY_DIR}
         -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/print_config_round_trip.cmake)
set_tests_properties(cli_print_config_round_trip PROPERTIES LABELS cli WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
zplan_cli_test(suggestions_fit 3 ARGS --model llama-3.2-3b --gpus 3x3080-20g --seq 2048
               MATCH "host RAM 12.00 GiB per node \\(from hardware/clusters/3x3080-20g.yaml\\).*What would make it fit\n  - [^\n]*: fits"
               NOMATCH "--seq 1024|needs 55")
zplan_cli_test(gpus_flag_says_host_ram_assumed 0 ARGS check --model llama-3.2-1b --gpus 6xrtx3080-20gb --seq 2048 --zero 3 --ckpt full
               MATCH "host RAM 240.00 GiB per node \\(assumed: 2 x the node's GPU memory")
zplan_cli_test(oom_names_cause 0 ARGS --model qwen3-30b-a3b --gpus 8xH100 --seq 16384 --explain
               MATCH "Baseline[^\n]*\n[^\n]*OOM: GPU needs [^\n]*over by" NOMATCH "fragmentation leaves no block")
zplan_cli_test(alternatives_have_headers 0 ARGS --model qwen3-30b --gpus 8xH100 --seq 16384
               MATCH "Next best feasible plans\n  strategy +device total +peak alloc +throughput")
include(${CMAKE_CURRENT_SOURCE_DIR}/cli/bad_inputs.cmake)
# ---- step time, calibration, hardware and price (issue 22) ----
zplan_cli_test(validate_step_time 0 ARGS validate tests/regression/measured MATCH "step time hf    all  .*mean \\|err\\|")
zplan_cli_test(calibrate_h100 0 ARGS calibrate tests/regression/measured --gpu h100 --out ${CMAKE_CURRENT_BINARY_DIR}/h100.calibration.yaml
               MATCH "h100-80gb hf .*held out .*leave-one-model-out")
# --worst: the records behind the maxima, largest first, with their files.
zplan_cli_test(calibrate_worst 0 ARGS calibrate tests/regression/measured --gpu h200 --holdout deepspeed --worst 2
               MATCH "h200-141gb hf, held out: the 2 largest errors.*[-+][0-9.]+%  predicted +[0-9.]+ s  measured +[0-9.]+ s .*hf_deepspeed.*json.*h200-141gb hf, leave-one-model-out: the 2 largest errors")
zplan_cli_test(calibrated_report 0 ARGS check --model qwen3-0.6b --gpus 1xH100 --seq 4096 --profile hf MATCH "step time calibrated")
zplan_cli_test(uncalibrated_report 0 ARGS check --model qwen3-0.6b --gpus 1xA100-80gb --seq 4096 --profile hf
               MATCH "step time uncalibrated")
zplan_cli_test(hardware_list_cost 0 ARGS --model qwen3-1.7b --seq 4096 --gpus h100,a100-80gb,l40s --max-gpus 8 --tokens 2e9 --explain
               MATCH "ranked by cost.*Chosen: .*Training 2e\\+09 tokens: .* hours on .*beats .*next best")
zplan_cli_test(hardware_list_time 0 ARGS --model qwen3-1.7b --seq 4096 --gpus h100,a100-80gb --max-gpus 8 --objective time
               MATCH "ranked by time.*Chosen: 8x")
zplan_cli_test(hardware_price_override 0 ARGS --model qwen3-1.7b --seq 4096 --gpus h100,a100-80gb --max-gpus 2 --price h100=0.01
               MATCH "Chosen: [12]xh100-80gb")
zplan_cli_test(hardware_json 0 ARGS --model qwen3-1.7b --seq 4096 --gpus h100,a100-80gb --max-gpus 2 --format json --tokens 1e9
               MATCH "\"dollars_per_million_tokens\".*\"training_run\"")
zplan_cli_test(hardware_nothing_fits 3 ARGS --model llama-3.1-70b --seq 131072 --gpus rtx3080-20gb, --max-gpus 32 --sp 1
               MATCH "no GPU type and count up to 32 fits")
# The loss path as a plan dimension (issue 20): at 128K tokens only the chunked loss fits one H200,
# and --explain shows its branch beside checkpointing and CPU checkpointing. Since the runtime's layer order
# is modelled (planner/memory/runtime_layer_order.h) the peak leaves room for layers without recompute; of the
# plans within the ranking's 2% (planner/search/selection.h) the one with most memory free is chosen.
zplan_cli_test(explain_loss_path 0 ARGS --model qwen3-1.7b --gpus 1xH200 --seq 131072 --profile zplan --framework plain
               --zero 0 --offload-optimizer none --offload-params none --sp 1 --explain
               MATCH "chunked loss path \\(64 chunks[^\n]*with CPU checkpointing[^\n]*\n[^\n]*fits.*chosen: ZeRO-0, ckpt 2[0-9]/28[^\n]*loss in 64 chunks")
# --profile zplan predicts zplan's runtime with or without --run, so its search offers only what the
# runtime executes (planner/config/runtime_support.h, pin_search_to_runtime): at 128K tokens on one
# H200 it chose ZeRO-3 with optimizer and parameter offload, which the runtime cannot run.
zplan_cli_test(profile_zplan_runtime_only 0 ARGS --model qwen3-1.7b --gpus 1xH200 --seq 131072 --profile zplan
               MATCH "strategy: ZeRO-0, [^\n]*loss in [0-9]+ chunks" NOMATCH "offload-optimizer|offload-params|ZeRO-[123]")
zplan_cli_test(hardware_profile_zplan_runtime_only 0 ARGS --model qwen3-1.7b --seq 131072 --gpus h200,h100 --max-gpus 2 --profile zplan
               --objective time MATCH "Chosen: [12]xh200" NOMATCH "opt-offload|param-offload|\\+offload")
zplan_cli_test(explain_profile_zplan_no_offload_branch 0 ARGS --model qwen3-1.7b --gpus 2xH200 --seq 131072 --profile zplan --explain
               MATCH "Decision tree.*Ulysses sequence parallelism 2" NOMATCH "optimizer offload")
# The ranking check (tools/gpu/ranking_check.sh): its summary on synthetic measurements (ranks, the 5%
# verdicts of the chosen and the fastest predicted plan, an OOM run, a skipped one), and the script's
# dry run: the plans the search returns, each with every strategy field pinned for `zplan --run`.
find_program(ZPLAN_PYTHON3 python3)
if(ZPLAN_PYTHON3)
  add_test(NAME cli_ranking_summary COMMAND ${ZPLAN_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/gpu/ranking_summary.py summary
           ${CMAKE_CURRENT_SOURCE_DIR}/data/ranking/ranking_fixture.jsonl)
  set_tests_properties(cli_ranking_summary PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
    "status 4 \\(OOM\\).*skipped.*chosen \\(plan 0\\) at -20.0% of the fastest measured: NOT within 5%.*fastest predicted \\(plan 3\\) at \\+0.0%.*fastest measured: plan 1, 15300.*chosen \\(plan 0\\) at -2.0%[^\n]*: WITHIN 5%.*in 1 of 2 scenarios")
  add_test(NAME cli_ranking_check_dry_run COMMAND ${CMAKE_COMMAND} -E env DRY_RUN=1 ZPLAN=$<TARGET_FILE:zplan>
           SCRATCH=${CMAKE_CURRENT_BINARY_DIR}/ranking OUT=${CMAKE_CURRENT_BINARY_DIR}/ranking/out "SCENARIOS=q06b_16k moe4l_4k"
           bash ${PROJECT_SOURCE_DIR}/tools/gpu/ranking_check.sh)
  set_tests_properties(cli_ranking_check_dry_run PROPERTIES LABELS cli WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PASS_REGULAR_EXPRESSION "plan 4: [^\n]*--seq 16384 --gpus 1xH200 --framework plain --zero 0 --offload-optimizer none --offload-params none --sp 1 --ckpt [0-9]+ [^\n]*--loss-chunks [0-9]+ --micro-batch [0-9]+ --grad-accum [0-9]+ --precision bf16 --run --steps 4.*== moe4l_4k: [^\n]*qwen3-30b-a3b-4l.yaml.*\n   [1-4]  ZeRO-0, ckpt [0-9]/4"
    FAIL_REGULAR_EXPRESSION "--offload-optimizer cpu|--offload-params cpu|!!")
  # The host-time fits docs/cost-model.md cites ("Call23"), from the committed call25 measurement.
  add_test(NAME cli_host_phases_fit COMMAND ${ZPLAN_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/gpu/host_phases_fit.py
           ${PROJECT_SOURCE_DIR}/docs/measurements/2026-12-07/call25/host_phases_families.json)
  set_tests_properties(cli_host_phases_fit PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
    "launches x one cost: 31.0 us.*mean / max 15.9% / 29.7%.*module calls x one cost \\+ launches x another: 97.0 us, 22.1 us.*mean / max 8.0% / 16.8%; each model left out 10.3% / 18.1%")
  # ... and call29's (docs/cost-model.md, "Autocast's casts and the host's dispatches"): the host's
  # seconds follow the forward's aten ops and the backward's launches better than launches alone.
  add_test(NAME cli_host_phases_fit_ops COMMAND ${ZPLAN_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/gpu/host_phases_fit.py
           ${PROJECT_SOURCE_DIR}/docs/measurements/2026-12-07/call29/bf16.json)
  set_tests_properties(cli_host_phases_fit_ops PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
    "launches x one cost: 31.6 us.*mean / max 6.8% / 23.8%; each model left out 7.8% / 25.3%.*forward aten ops \\+ backward launches, x one cost: 29.1 us.*mean / max 5.9% / 11.5%; each model left out 6.7% / 12.5%")
  # Two passes of one call: how far one host's seconds moved, beside its speed probe.
  add_test(NAME cli_host_phases_fit_drift COMMAND ${ZPLAN_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/gpu/host_phases_fit.py
           ${PROJECT_SOURCE_DIR}/docs/measurements/2026-12-07/call29/bf16.json
           ${PROJECT_SOURCE_DIR}/docs/measurements/2026-12-07/call29/bf16_reversed.json)
  set_tests_properties(cli_host_phases_fit_drift PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
    "gemma-3-1b: host seconds 0.1948 -> 0.1458 \\(x0.75\\), probe 10.09 -> 9.13 us.*10 rows: r = 0.43")
  add_test(NAME cli_host_phases_fit_bad_input COMMAND ${ZPLAN_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/gpu/host_phases_fit.py /nonexistent.json)
  set_tests_properties(cli_host_phases_fit_bad_input PROPERTIES LABELS cli WILL_FAIL TRUE)
  # How the host's dispatch and the GPU's work overlap (docs/cost-model.md, "Call26"), from the
  # committed call26 sweep: the sum over-predicts the balanced rows, the max does not.
  add_test(NAME cli_host_device_overlap_fit COMMAND ${ZPLAN_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/gpu/host_device_overlap_fit.py
           ${PROJECT_SOURCE_DIR}/docs/measurements/2026-12-07/call26/overlap_sweep.json)
  set_tests_properties(cli_host_device_overlap_fit PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
    "p=1    balanced : mean 57.3%.*p=2    balanced : mean 15.6%  max 27.9%.*max    balanced : mean 3.4%  max 10.0%.*median 1.91 us, range 1.33-2.89 us \\(5 rows\\)")
  add_test(NAME cli_host_device_overlap_fit_bad_input COMMAND ${CMAKE_COMMAND} -DZPLAN=${ZPLAN_PYTHON3}
           "-DARGS=${PROJECT_SOURCE_DIR}/tools/gpu/host_device_overlap_fit.py|${PROJECT_SOURCE_DIR}/docs/measurements/2026-12-07/call25/host_phases_families.json"
           -DRC=2 "-DMATCH=step_device_busy_s" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.cmake)
  set_tests_properties(cli_host_device_overlap_fit_bad_input PROPERTIES LABELS cli)
  # Runs the model cannot tell apart (tools/record_repeats.py): the expert loop's 6- and 40-step runs
  # of one configuration, and the ranking reruns within a few percent.
  add_test(NAME cli_record_repeats COMMAND ${ZPLAN_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/record_repeats.py
           ${PROJECT_SOURCE_DIR}/tests/regression/measured)
  set_tests_properties(cli_record_repeats PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
    "0.1142 s .. 0.1438 s  spread  25.9%  floor 11.4%  zplan_expert_loop40_h100/loop40_qwen15_2k_loop.json.*1.0798 s .. 1.0808 s  spread   0.1%.*[0-9]+ groups of repeated configurations among [0-9]+ records")
  add_test(NAME cli_record_repeats_bad_input COMMAND ${CMAKE_COMMAND} -DZPLAN=${ZPLAN_PYTHON3}
           "-DARGS=${PROJECT_SOURCE_DIR}/tools/record_repeats.py|/nonexistent-records" -DRC=2 "-DMATCH=not a folder"
           -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.cmake)
  set_tests_properties(cli_record_repeats_bad_input PROPERTIES LABELS cli)
  # Kernels one recipe launches beyond another's (tools/gpu/kernel_name_diff.py): a file against itself
  # differs nowhere; an unreadable file is exit 2.
  add_test(NAME cli_kernel_name_diff COMMAND ${ZPLAN_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/gpu/kernel_name_diff.py
           ${PROJECT_SOURCE_DIR}/docs/measurements/2026-12-07/call26/kernel_names_families.json
           ${PROJECT_SOURCE_DIR}/docs/measurements/2026-12-07/call26/kernel_names_families.json)
  set_tests_properties(cli_kernel_name_diff PROPERTIES LABELS cli
    PASS_REGULAR_EXPRESSION "llama-3.2-1b at 512 tokens: bf16 -> bf16\n  forward: 684 -> 684 launches \\(\\+0\\)\n  backward: 1372 -> 1372 launches"
    FAIL_REGULAR_EXPRESSION "\n    [+-][0-9]")
  add_test(NAME cli_kernel_name_diff_bad_input COMMAND ${CMAKE_COMMAND} -DZPLAN=${ZPLAN_PYTHON3}
           "-DARGS=${PROJECT_SOURCE_DIR}/tools/gpu/kernel_name_diff.py|/nonexistent.json|/nonexistent.json" -DRC=2
           "-DMATCH=No such file" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.cmake)
  set_tests_properties(cli_kernel_name_diff_bad_input PROPERTIES LABELS cli)
  # A record's command repeats the run's --steps (call27 ran 5 steps; the default is 3).
  add_test(NAME cli_to_records_steps COMMAND sh -c "\"$0\" \"$1\" \"$2\" --out \"$3\" > /dev/null && cat \"$3\"/gpt2_amp-bf16_1024_mb8_ckpt-full.json"
           ${ZPLAN_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/hf_reference/to_records.py
           ${PROJECT_SOURCE_DIR}/docs/measurements/2026-12-07/call27/round1/hf_runs.jsonl ${CMAKE_CURRENT_BINARY_DIR}/to_records_steps)
  set_tests_properties(cli_to_records_steps PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
    "measure_hf.py --filter '\\^gpt2.*ckpt.*full\\$' --steps 5\"")
  # Call30's four rounds on one H100 (docs/cost-model.md, "Call30"): a step the GPU bounds repeats
  # within a few percent, a step the host bounds does not. The records carry both host probes.
  add_test(NAME cli_record_repeats_call30 COMMAND sh -c "for r in 1 2 3 4; do \"$0\" \"$1\" \"$2\"/round$r/hf_runs.jsonl --out \"$3\"/round$r > /dev/null || exit 1; done; \"$0\" \"$4\" \"$3\" && grep -h op_probe_us \"$3\"/round1/*.json | head -n 1"
           ${ZPLAN_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/hf_reference/to_records.py
           ${PROJECT_SOURCE_DIR}/docs/measurements/2026-12-07/call30 ${CMAKE_CURRENT_BINARY_DIR}/call30_rounds
           ${PROJECT_SOURCE_DIR}/tools/record_repeats.py)
  set_tests_properties(cli_record_repeats_call30 PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION
    "0.1799 s .. 0.1842 s  spread   2.4%[^\n]*gemma-3-1b.*0.2098 s .. 0.2604 s  spread  24.1%  floor 10.8%[^\n]*qwen3-0.6b_bf16_4096_mb1_ckpt-full.*10 groups of repeated configurations among 40 records.*\"op_probe_us\": [0-9]")
  # gc_step_check.py (GPU only) refuses what it cannot run before it imports torch.
  add_test(NAME cli_gc_step_check_bad_input COMMAND ${CMAKE_COMMAND} -DZPLAN=${ZPLAN_PYTHON3}
           "-DARGS=${PROJECT_SOURCE_DIR}/tools/gpu/gc_step_check.py|--out|/nonexistent/gc.json|--models|no-such-model" -DRC=2
           "-DMATCH=unknown models" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.cmake)
  set_tests_properties(cli_gc_step_check_bad_input PROPERTIES LABELS cli)
  # measure_gemm_alignment.py (GPU only) refuses a malformed shape before it imports torch.
  add_test(NAME cli_measure_gemm_alignment_bad_input COMMAND ${CMAKE_COMMAND} -DZPLAN=${ZPLAN_PYTHON3}
           "-DARGS=${PROJECT_SOURCE_DIR}/tools/gpu/measure_gemm_alignment.py|--out|/nonexistent/g.json|--shapes|8192x1024" -DRC=2
           "-DMATCH=expected MxKxN" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.cmake)
  set_tests_properties(cli_measure_gemm_alignment_bad_input PROPERTIES LABELS cli)
  # measure_grouped_mm.py (GPU only) refuses an unknown model shape before it imports torch.
  add_test(NAME cli_measure_grouped_mm_bad_input COMMAND ${CMAKE_COMMAND} -DZPLAN=${ZPLAN_PYTHON3}
           "-DARGS=${PROJECT_SOURCE_DIR}/tools/gpu/measure_grouped_mm.py|--out|/nonexistent/g.json|--models|no-such-moe" -DRC=2
           "-DMATCH=expected some of qwen3-30b-a3b" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.cmake)
  set_tests_properties(cli_measure_grouped_mm_bad_input PROPERTIES LABELS cli)
endif()

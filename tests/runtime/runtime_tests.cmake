# Runtime CPU tests (label runtime): included from tests/CMakeLists.txt when zplan_runtime is built.
# Two translation units so the torch-heavy compile splits over CI's two cores.
zplan_add_test(runtime_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/model_reference_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/training_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/zero_release_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/trainer_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/data_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/param_table_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/chunked_loss_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/gemma_reference_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/amp_test.cpp
  LABELS runtime
  LIBS zplan_runtime)

# Distributed runtime on CPU: ranks are dist_worker processes over c10d Gloo (label dist as well,
# so `ctest -L dist` runs them alone). Needs a runtime built with Gloo.
if(ZPLAN_GLOO_INCLUDE_DIR)
  add_executable(dist_worker ${CMAKE_CURRENT_LIST_DIR}/dist_worker.cpp)
  target_link_libraries(dist_worker PRIVATE zplan_runtime)
  add_executable(dist_tests ${CMAKE_CURRENT_LIST_DIR}/dist_test.cpp)
  target_link_libraries(dist_tests PRIVATE zplan_planner zplan_doctest_main zplan_runtime)
  target_compile_definitions(dist_tests PRIVATE ZPLAN_DIST_WORKER="$<TARGET_FILE:dist_worker>")
  add_dependencies(dist_tests dist_worker)
  # Two ctest entries over the same binary, so that `ctest -j2` runs the fault cases alongside.
  add_test(NAME dist_equivalence COMMAND dist_tests "--test-case-exclude=*rank that*,*variables*")
  add_test(NAME dist_faults COMMAND dist_tests "--test-case=*rank that*,*variables*")
  set_tests_properties(dist_equivalence dist_faults PROPERTIES LABELS "runtime;dist" TIMEOUT 300
                       WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()

# `zplan --run` on a 2-GPU plan, on this CPU machine: zplan starts both ranks itself (Gloo); the
# search is widened to ZeRO stages and Ulysses degrees but not to what the runtime lacks (offload).
if(ZPLAN_GLOO_INCLUDE_DIR)
  set(TINY ${PROJECT_SOURCE_DIR}/tests/data/hf/run/tiny-qwen3.json)
  zplan_cli_test(run_two_ranks_zero3 0 ARGS --model ${TINY} --gpus 2xH100 --seq 32 --precision bf16 --micro-batch 2
                 --zero 3 --ckpt 1 --run --steps 2 --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_two_ranks.json
                 MATCH "ZeRO-3.*gradients \\(own chunks\\).*starting 2 ranks.*on 2 ranks.*wrote run record")
  zplan_cli_test(run_two_ranks_searched 0 ARGS --model ${TINY} --gpus 2xH100 --seq 32 --precision bf16 --micro-batch 2
                 --run --steps 1 --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_two_ranks_searched.json
                 MATCH "strategy: ZeRO-[0-3],[^\n]*SP [12],.*on 2 ranks" NOMATCH "strategy:[^\n]*offload")
  zplan_cli_test(run_two_ranks_ulysses 0 ARGS --model ${TINY} --gpus 2xH100 --seq 32 --precision bf16
                 --sp 2 --zero 3 --run --steps 1 --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_sp.json
                 MATCH "SP 2.*on 2 ranks.*wrote run record")
  zplan_cli_test(run_two_nodes_needs_launcher 2 ARGS --model ${TINY} --gpus 2xH100 --nodes 2 --seq 32 --precision bf16
                 --zero 3 --run --steps 1 MATCH "torchrun --nnodes 2 --nproc_per_node 2 --no-python zplan-run")
  zplan_cli_test(run_four_ranks_ulysses_groups 0 ARGS --model ${TINY} --gpus 4xH100 --seq 32 --precision bf16
                 --sp 2 --zero 3 --run --steps 1 --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_sp4.json
                 MATCH "SP 2.*starting 4 ranks.*on 4 ranks.*wrote run record")
  # The trainer's one-rank features are refused on several ranks (exit 2), not run wrongly.
  zplan_cli_test(run_two_ranks_refuses_clip_grad 2 ARGS --model ${TINY} --gpus 2xH100 --seq 32 --precision bf16
                 --micro-batch 2 --zero 1 --run --steps 1 --clip-grad 1 MATCH "--clip-grad.*run on one GPU")
  zplan_cli_test(run_two_ranks_refuses_save_hf 2 ARGS --model ${TINY} --gpus 2xH100 --seq 32 --precision bf16
                 --micro-batch 2 --zero 3 --run --steps 1 --save-hf ${CMAKE_CURRENT_BINARY_DIR}/never_written
                 MATCH "--save-hf.*run on one GPU")
endif()

# The families beyond Llama/Qwen3 (Phi-3's fused projections, Qwen2-MoE's shared expert) run end
# to end on one CPU rank, also beyond tiny-phi3's sliding window of 32 tokens.
set(HFRUN ${PROJECT_SOURCE_DIR}/tests/data/hf/run)
zplan_cli_test(run_phi3_fused 0 ARGS --model ${HFRUN}/tiny-phi3.json --gpus 1xH100 --seq 32 --precision bf16
               --micro-batch 2 --ckpt 1 --run --steps 2 --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_phi3.json
               MATCH "wrote run record")
set_tests_properties(cli_run_phi3_fused PROPERTIES FIXTURES_SETUP phi3_record)
add_test(NAME run_record_versions COMMAND ${CMAKE_COMMAND} -DRECORD=${CMAKE_CURRENT_BINARY_DIR}/run_phi3.json
         -P ${CMAKE_CURRENT_SOURCE_DIR}/runtime/record_versions.cmake)
set_tests_properties(run_record_versions PROPERTIES LABELS "runtime;cli" FIXTURES_REQUIRED phi3_record)
zplan_cli_test(run_qwen2_moe_shared 0 ARGS --model ${HFRUN}/tiny-qwen2-moe.json --gpus 1xH100 --seq 32
               --precision bf16 --micro-batch 2 --run --steps 2 --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_qwen2_moe.json
               MATCH "wrote run record")
# Gemma 3 (sandwich norms, local/global RoPE with linear scaling, tied head) beyond its window of 16.
zplan_cli_test(run_gemma3 0 ARGS --model ${HFRUN}/tiny-gemma3.json --gpus 1xH100 --seq 32 --precision bf16
               --micro-batch 2 --ckpt 1 --profile zplan --run --steps 2 --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_gemma3.json
               MATCH "wrote run record")
# Mixtral: top-2 of 4 experts renormalised, a sliding window of 24 tokens below --seq 32, and
# --save-hf writing its block_sparse_moe names.
zplan_cli_test(run_mixtral 0 ARGS --model ${HFRUN}/tiny-mixtral.json --gpus 1xH100 --seq 32 --precision bf16
               --micro-batch 2 --run --steps 2 --save-hf ${CMAKE_CURRENT_BINARY_DIR}/mixtral_hf
               --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_mixtral.json MATCH "wrote run record")
zplan_cli_test(run_beyond_sliding_window 0 ARGS --model ${HFRUN}/tiny-phi3.json --gpus 1xH100 --seq 64
               --precision bf16 --run --steps 1 --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_window.json
               MATCH "wrote run record")

# zplan-run as a trainer, black-box: Ctrl-C (SIGINT) writes a complete checkpoint and exits 130,
# --resume continues, bad token files exit 2 (needs python3 for tools/tokenize_text.py).
find_program(ZPLAN_PYTHON3 python3)
if(ZPLAN_PYTHON3 AND TARGET zplan-run)
  add_test(NAME runtime_cli_ctrl_c
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/ctrl_c_cli_test.sh $<TARGET_FILE:zplan-run> ${PROJECT_SOURCE_DIR})
  set_tests_properties(runtime_cli_ctrl_c PROPERTIES LABELS runtime TIMEOUT 300)
  add_test(NAME runtime_cli_hf_roundtrip
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/hf_roundtrip_cli_test.sh $<TARGET_FILE:zplan-run> ${PROJECT_SOURCE_DIR})
  set_tests_properties(runtime_cli_hf_roundtrip PROPERTIES LABELS runtime TIMEOUT 300)
  # Gemma 3: its config keys (rope_local_base_freq, rope_scaling, query_pre_attn_scalar,
  # layer_types) must come back from the written config.json and give the same loss.
  add_test(NAME runtime_cli_hf_roundtrip_gemma3
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/hf_roundtrip_cli_test.sh $<TARGET_FILE:zplan-run> ${PROJECT_SOURCE_DIR}
                   tiny-gemma3 gemma3_text)
  set_tests_properties(runtime_cli_hf_roundtrip_gemma3 PROPERTIES LABELS runtime TIMEOUT 300)
endif()

# Hugging Face checkpoints in and out (runtime/io/): its own binary, so editing it rebuilds little.
zplan_add_test(hf_checkpoint_tests SOURCES ${CMAKE_CURRENT_LIST_DIR}/hf_checkpoint_test.cpp LABELS runtime LIBS zplan_runtime)

# --init-from with a bad checkpoint: exit 2 naming the file (tests/data/hf/bad_checkpoint: a
# safetensors file cut inside its header; its config.json has 4 KV heads where tiny-qwen3.json has 2).
set(BADCK ${PROJECT_SOURCE_DIR}/tests/data/hf/bad_checkpoint)
zplan_cli_test(run_init_from_truncated 2 ARGS --init-from ${BADCK} --gpus 1xH100 --seq 32 --precision bf16
               --micro-batch 1 --run --steps 1 MATCH "bad_checkpoint/model.safetensors: truncated")
zplan_cli_test(run_init_from_config_mismatch 2 ARGS --model ${PROJECT_SOURCE_DIR}/tests/data/hf/run/tiny-qwen3.json
               --init-from ${BADCK} --gpus 1xH100 --seq 32 --precision bf16 --micro-batch 1 --run --steps 1
               MATCH "bad_checkpoint/config.json: field 'kv_heads'")

# amp-bf16 on CPU: fp32 parameters under bf16 autocast; the search keeps the plain loss path (the
# chunked one does not run under autocast). amp-fp16 needs CUDA: exit 2 naming --precision.
zplan_cli_test(run_amp_bf16 0 ARGS --model ${PROJECT_SOURCE_DIR}/tests/data/hf/run/tiny-qwen3.json --gpus 1xH100
               --seq 32 --precision amp-bf16 --micro-batch 2 --ckpt 1 --run --steps 2
               --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_amp_bf16.json MATCH "wrote run record")
zplan_cli_test(run_amp_fp16_needs_cuda 2 ARGS --model ${PROJECT_SOURCE_DIR}/tests/data/hf/run/tiny-qwen3.json
               --gpus 1xH100 --seq 32 --precision amp-fp16 --micro-batch 2 --run --steps 1
               MATCH "--precision.*amp-fp16 needs a CUDA device")
# Only true where no CUDA device is visible: label cpu-only, which tools/gpu/check.sh leaves out.
set_tests_properties(cli_run_amp_fp16_needs_cuda PROPERTIES LABELS "cli;cpu-only")
zplan_cli_test(run_amp_refuses_chunked_loss 2 ARGS --model ${PROJECT_SOURCE_DIR}/tests/data/hf/run/tiny-qwen3.json
               --gpus 1xH100 --seq 32 --precision amp-bf16 --loss-chunks 2 --micro-batch 2 --run --steps 1
               MATCH "--loss-chunks.*autocast")
# ZPLAN_ALLOCATOR_TRACE (runtime/train/allocator_trace.h) is a no-op without CUDA: the run still
# trains and writes its record.
zplan_cli_test(run_allocator_trace_cpu_noop 0 ARGS --model ${PROJECT_SOURCE_DIR}/tests/data/hf/run/tiny-qwen3.json
               --gpus 1xH100 --seq 32 --micro-batch 2 --run --steps 1
               --run-out ${CMAKE_CURRENT_BINARY_DIR}/run_trace_noop.json MATCH "wrote run record")
set_tests_properties(cli_run_allocator_trace_cpu_noop PROPERTIES
                     ENVIRONMENT ZPLAN_ALLOCATOR_TRACE=${CMAKE_CURRENT_BINARY_DIR}/trace_noop.jsonl)

# On a CUDA device only (label gpu; tools/gpu/check.sh runs it, CI leaves it out): the MoE experts'
# _grouped_mm path against the per-expert loop; the fused RMSNorm against transformers' composite;
# zplan's own kernels (runtime/kernels) against the PyTorch paths they replace.
zplan_add_test(runtime_gpu_tests SOURCES ${CMAKE_CURRENT_LIST_DIR}/grouped_mm_gpu_test.cpp
               ${CMAKE_CURRENT_LIST_DIR}/fused_norm_gpu_test.cpp
               ${CMAKE_CURRENT_LIST_DIR}/runtime_kernels_gpu_test.cpp
               ${CMAKE_CURRENT_LIST_DIR}/elementwise_kernels_gpu_test.cpp
               ${CMAKE_CURRENT_LIST_DIR}/cross_entropy_gpu_test.cpp LABELS gpu LIBS zplan_runtime)

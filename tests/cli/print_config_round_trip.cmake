# --print-config writes a scenario that --config reads back to the same scenario: printing it again
# gives the same text, and predicting from it gives the same JSON (strategy pins and DeepSpeed
# buffers from a --deepspeed file included).
set(first ${DIR}/print_config_first.yaml)
execute_process(COMMAND ${ZPLAN} check --model gpt2-xl --gpus 4xV100 --seq 1024 --host-ram 48GiB --ckpt 12
                        --deepspeed tests/data/deepspeed/ds_config_zero2.json --print-config --out ${first}
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "print-config: exit ${rc}: ${err}")
endif()
execute_process(COMMAND ${ZPLAN} check --config ${first} --print-config RESULT_VARIABLE rc OUTPUT_VARIABLE second ERROR_VARIABLE err)
file(READ ${first} text)
if(NOT rc EQUAL 0 OR NOT text STREQUAL second)
  message(FATAL_ERROR "round trip differs (exit ${rc}: ${err})\n--- first ---\n${text}\n--- second ---\n${second}")
endif()
foreach(needle "zero: 2" "precision: fp16" "ckpt: 12" "micro_batch: 1" "reduce_bucket_size: 500000000" "overlap_comm: true" "host_ram: 48GiB")
  string(FIND "${text}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "'${needle}' missing from\n${text}")
  endif()
endforeach()
execute_process(COMMAND ${ZPLAN} check --model gpt2-xl --gpus 4xV100 --seq 1024 --host-ram 48GiB --ckpt 12
                        --deepspeed tests/data/deepspeed/ds_config_zero2.json --format json OUTPUT_VARIABLE a)
execute_process(COMMAND ${ZPLAN} check --config ${first} --format json OUTPUT_VARIABLE b)
string(JSON a_peak GET "${a}" memory gpu peak_bytes)
string(JSON b_peak GET "${b}" memory gpu peak_bytes)
string(JSON a_host GET "${a}" memory host peak_bytes)
string(JSON b_host GET "${b}" memory host peak_bytes)
if(NOT a_peak EQUAL b_peak OR NOT a_host EQUAL b_host)
  message(FATAL_ERROR "predictions differ: ${a_peak}/${a_host} vs ${b_peak}/${b_host}")
endif()

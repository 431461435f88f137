# Checks that `zplan ... --format json` prints one JSON object with every field of the CLI's JSON
# contract (docs/cli.md, section "JSON"), of the right type (string(JSON) fails the script on a
# missing member).
string(REPLACE "|" ";" ARGS "${ARGS}")
execute_process(COMMAND ${ZPLAN} ${ARGS} --format json RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT (rc EQUAL 0 OR rc EQUAL 3))
  message(FATAL_ERROR "exit ${rc}: ${err}")
endif()
foreach(path
    "feasible" "strategy;zero_stage" "strategy;offload_optimizer" "strategy;offload_params"
    "strategy;checkpointed_layers" "strategy;cpu_checkpointing" "strategy;sp_degree" "strategy;micro_batch"
    "strategy;grad_accumulation" "strategy;precision" "memory;gpu;peak_bytes" "memory;gpu;reserved_bytes"
    "memory;gpu;capacity_bytes" "memory;host;peak_bytes" "time;step_seconds" "time;tokens_per_second"
    "model;parameters" "memory;gpu;free_bytes" "memory;gpu;uncertainty_bytes" "memory;gpu;measured_runs")
  string(JSON value ERROR_VARIABLE jerr GET "${out}" ${path})
  if(jerr)
    message(FATAL_ERROR "missing ${path}: ${jerr}\n${out}")
  endif()
endforeach()
# Issue 16: what a verdict can be trusted on — free memory at the peak, the path's band and its runs.
foreach(field free_bytes uncertainty_bytes measured_runs)
  string(JSON v GET "${out}" memory gpu ${field})
  if(NOT v MATCHES "^[0-9]+$")
    message(FATAL_ERROR "memory.gpu.${field} is not a non-negative integer: ${v}")
  endif()
endforeach()
string(JSON feasible GET "${out}" feasible)
string(JSON free GET "${out}" memory gpu free_bytes)
string(JSON band GET "${out}" memory gpu uncertainty_bytes)
if(feasible STREQUAL "ON" AND free LESS band)
  message(FATAL_ERROR "a feasible verdict with less memory free (${free}) than its band (${band})")
endif()
string(JSON peak GET "${out}" memory gpu peak_bytes)
if(NOT peak MATCHES "^[0-9]+$" OR peak EQUAL 0)
  message(FATAL_ERROR "memory.gpu.peak_bytes is not a positive integer: ${peak}")
endif()

# Runs one zplan command line and checks its exit status and output (CLI11's examples/ habit of
# black-box CLI tests). Variables: ZPLAN (binary), ARGS (;-list), RC (expected exit status),
# (joined with |), MATCH (regex the combined output must match, optional), NOMATCH (regex it must not match).
string(REPLACE "|" ";" ARGS "${ARGS}")
execute_process(COMMAND ${ZPLAN} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(NOT rc STREQUAL RC)
  message(FATAL_ERROR "expected exit ${RC}, got ${rc}\n--- output ---\n${all}")
endif()
if(DEFINED MATCH AND NOT all MATCHES "${MATCH}")
  message(FATAL_ERROR "output does not match '${MATCH}'\n--- output ---\n${all}")
endif()
if(DEFINED NOMATCH AND all MATCHES "${NOMATCH}")
  message(FATAL_ERROR "output matches '${NOMATCH}'\n--- output ---\n${all}")
endif()

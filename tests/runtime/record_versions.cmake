# A run record names what trained it: zplan's version, the source commit, libtorch's version and the host
# (tools/zplan/run_command.cpp run_versions). Reads RECORD (written by an earlier test).
file(READ "${RECORD}" record)
foreach(key zplan zplan_source_commit libtorch)
  string(JSON value ERROR_VARIABLE err GET "${record}" versions ${key})
  if(err OR value STREQUAL "")
    message(FATAL_ERROR "${RECORD}: versions.${key} is missing or empty (${err})")
  endif()
  message(STATUS "versions.${key} = ${value}")
endforeach()
string(JSON libtorch GET "${record}" versions libtorch)
if(NOT libtorch MATCHES "^[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "versions.libtorch '${libtorch}' is not a version number")
endif()
# ... and the host it ran on (a host-bound step's time follows the CPU).
string(JSON cpus ERROR_VARIABLE err GET "${record}" host logical_cpus)
if(err OR NOT cpus MATCHES "^[1-9][0-9]*$")
  message(FATAL_ERROR "${RECORD}: host.logical_cpus is missing or not a positive count (${err})")
endif()

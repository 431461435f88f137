# Writes OUT (a header defining ZPLAN_SOURCE_COMMIT) from `git describe` of SRC, at every build, and
# rewrites it only when the commit changed, so that a run record names the exact source that
# trained it (runtime speed changes with code that no record field describes) without rebuilding
# everything each time. Outside a git checkout (a source tarball) the commit is "unknown".
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
endif()
set(text "#pragma once\n#define ZPLAN_SOURCE_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()

#!/bin/bash
# segv_backtrace.sh: runs ZPLAN_BINARY with the given arguments and, when it dies of SIGSEGV, prints
# where: the GPU machine has no gdb, so a small preloaded handler (built here with the machine's C
# compiler) prints the stack with glibc's backtrace(), and addr2line turns the binary's offsets into
# functions and lines. Lets a black-box test script (tests/runtime/*.sh) take it in place of the binary:
#   ZPLAN_BINARY=build/tools/zplan-run bash tests/runtime/hf_roundtrip_cli_test.sh tools/gpu/segv_backtrace.sh .
# The backtrace goes to stderr and to $OUT/segv_backtrace.txt (OUT default /tmp).
set -u
lib=${TMPDIR:-/tmp}/zplan_segv_handler.so
if [ ! -f "$lib" ]; then
  cat >"$lib.c" <<'C'
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>
static void on_segv(int sig) {
  void* frames[64];
  int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, 2);
  _exit(128 + sig);
}
__attribute__((constructor)) static void install(void) { signal(SIGSEGV, on_segv); }
C
  cc -shared -fPIC -o "$lib" "$lib.c" || exit 99
fi
LD_PRELOAD=$lib "$ZPLAN_BINARY" "$@" 2> >(tee "${TMPDIR:-/tmp}/segv_stderr.$$" >&2)
st=$?
wait
if [ "$st" = 139 ]; then
  {
    echo "== SIGSEGV: $ZPLAN_BINARY $*"
    grep -o "$(basename "$ZPLAN_BINARY")(+0x[0-9a-f]*)" "${TMPDIR:-/tmp}/segv_stderr.$$" | sed 's/.*(+\(0x[0-9a-f]*\))/\1/' |
      xargs -r addr2line -f -C -i -e "$ZPLAN_BINARY"
    grep -E '^/|\.so' "${TMPDIR:-/tmp}/segv_stderr.$$" | head -40
  } | tee -a "${OUT:-/tmp}/segv_backtrace.txt" >&2
fi
rm -f "${TMPDIR:-/tmp}/segv_stderr.$$"
exit "$st"

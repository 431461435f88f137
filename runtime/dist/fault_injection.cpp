// fault_injection.cpp: see fault_injection.h.
#include "runtime/dist/fault_injection.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace zplan::rt {

void inject_fault_if_asked(int rank, const char* phase) {
  const char* spec = std::getenv("ZPLAN_FAULT");
  if (spec == nullptr) return;
  const std::string s = spec;
  const size_t a = s.find(':'), b = s.find(':', a == std::string::npos ? a : a + 1);
  if (a == std::string::npos || b == std::string::npos) return;
  if (s.substr(a + 1, b - a - 1) != std::to_string(rank) || s.substr(b + 1) != phase) return;
  const std::string kind = s.substr(0, a);
  std::fprintf(stderr, "zplan-run: rank %d: ZPLAN_FAULT=%s: %s in phase %s\n", rank, spec,
               kind == "hang" ? "hanging" : "dying", phase);
  std::fflush(stderr);
  if (kind == "hang")
    for (;;) pause();
  if (kind == "kill") raise(SIGKILL);
}

}  // namespace zplan::rt

// Names of the phases in memory_breakdown.h (used in JSON and reports).
#include "planner/memory/memory_breakdown.h"

namespace zplan {

const char* to_string(Phase p) {
  switch (p) {
    case Phase::after_init: return "after_init";
    case Phase::forward_end: return "forward_end";
    case Phase::backward_peak: return "backward_peak";
    case Phase::optimizer_step: return "optimizer_step";
    case Phase::step_end: return "step_end";
    case Phase::count: break;
  }
  return "?";
}

}  // namespace zplan

// TEST-ONLY multipliers (see term_scales.h).
#include "planner/memory/term_scales.h"

namespace zplan {

TermScales& test_term_scales() {
  static TermScales scales;
  return scales;
}

}  // namespace zplan

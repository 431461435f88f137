// sdpa_kernel.cpp (see sdpa_kernel.h).
#include "planner/memory/sdpa_kernel.h"

namespace zplan {

bool sdpa_runs_math_path(const ModelSpec& m, const ExecContext& c, bool sliding) {
  return c.attention != Attention::eager && c.compute_bytes == 4 && m.kv_heads < m.heads &&
         !(sliding && c.profile == Profile::zplan);
}

}  // namespace zplan

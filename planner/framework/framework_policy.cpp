// Choosing the framework policy (see framework_policy.h).
#include "planner/framework/framework_policy.h"

namespace zplan {

std::unique_ptr<FrameworkPolicy> make_framework_policy(StepState& st) {
  switch (st.c.framework) {
    case Framework::deepspeed: return make_deepspeed_policy(st);
    case Framework::fsdp2: return make_fsdp2_policy(st);
    // DDP on one GPU wraps nothing: the plain loop.
    case Framework::ddp: return st.c.world_size > 1 ? make_ddp_policy(st) : make_plain_policy(st);
    case Framework::plain: break;
  }
  return st.c.profile == Profile::zplan ? make_runtime_policy(st) : make_plain_policy(st);
}

FrameworkCommunicators framework_communicators(const ExecContext& c) {
  return c.framework == Framework::deepspeed ? deepspeed_communicators(c.zero_stage, c.offload_optimizer) : FrameworkCommunicators{};
}

}  // namespace zplan

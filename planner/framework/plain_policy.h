// The plain PyTorch / Hugging Face loop (DDP and zplan's runtime derive from it):
//
//   buffer / state           | size (per rank)               | lives
//   -------------------------+-------------------------------+-----------------------------------
//   parameters               | whole, param dtype            | the run
//   fp32 masters (bf16/fp16) | whole, fp32, per tensor       | from init (DeepSpeed's BF16 recipe by hand)
//   .grad                    | whole, grad dtype, per tensor | backward until zero_grad(set_to_none)
//   AdamW exp_avg/exp_avg_sq | whole, fp32, per tensor       | from the first step (lazy)
//   fp32 gradient copies     | whole, per tensor             | the optimizer step (16-bit recipes)
#pragma once
#include "planner/framework/framework_policy.h"

namespace zplan {

class PlainPolicy : public FrameworkPolicy {
 public:
  PlainPolicy(StepState& st, const ModelStateHomes& homes) : FrameworkPolicy(st, homes) {}
  // Every state whole on the GPU (nothing shards them).
  static ModelStateHomes state_homes();

  void init() override;
  void optimizer_step(int step) override;

 protected:
  void alloc_per_tensor_masters();
};

}  // namespace zplan

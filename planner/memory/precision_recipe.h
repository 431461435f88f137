// Bytes per parameter that each precision recipe keeps, before any ZeRO division.
// Source: ZeRO paper (Rajbhandari et al. 2019, sec. 3.1): mixed-precision Adam keeps 2+2 bytes of
// 16-bit params and grads and K=12 bytes of fp32 master, momentum and variance (Megatron's
// theoretical_memory_usage.py num_bytes_per_parameter does the same sum). AMP (torch.autocast) keeps
// fp32 params and grads and only the Adam moments: 4+4+8.
#pragma once
#include "planner/config/training_spec.h"

namespace zplan {

struct PrecisionRecipe {
  int param_bytes;         // stored parameter dtype (2 for bf16/fp16, 4 for fp32/AMP)
  int grad_bytes;          // gradient dtype as autograd produces it (= param dtype)
  int master_bytes;        // fp32 master copy kept by the optimizer (0 when params are fp32)
  int optimizer_bytes;     // Adam exp_avg + exp_avg_sq, always fp32: 4 + 4
  int fp32_grad_bytes;     // fp32 copy of the gradient the optimizer steps on (0 when grads are fp32)
  int compute_bytes;       // dtype of activations and matmul outputs
};

PrecisionRecipe precision_recipe(Precision p);

}  // namespace zplan

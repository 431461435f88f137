// grad_clip.h: gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_ semantics:
// every gradient is multiplied by max_norm / (norm + 1e-6) when that factor is below 1).
#pragma once

#include <vector>

#include "runtime/torch_compat.h"

namespace zplan::rt {

// The global L2 norm of the gradients of `params` divided by loss_scale (fp16 loss scaling keeps
// gradients scaled until the optimizer step, so the norm is measured unscaled), computed in fp32.
// When max_norm > 0 and the norm exceeds it, scales the gradients in place. Returns the norm
// before clipping (inf/nan when a gradient overflowed; then nothing is scaled and the fp16 scaler
// skips the step).
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm, double loss_scale = 1.0);

}  // namespace zplan::rt

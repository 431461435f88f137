// sdpa_kernel.h: which of PyTorch's scaled_dot_product_attention kernels a layer's SDPA call runs,
// where that changes what is kept (activations.cpp) and what it costs (cost/step_terms.cpp).
#pragma once
#include "planner/config/model_spec.h"
#include "planner/memory/exec_context.h"

namespace zplan {

// fp32 with grouped-query attention: flash has no fp32 and the memory-efficient kernel no
// enable_gqa, so SDPA falls back to its math path (q·kᵀ materialised, mask, softmax, ·v). Both
// transformers and zplan's runtime pass the un-repeated k/v there; a sliding-window layer of the
// runtime repeats them first (no enable_gqa with a mask) and takes the memory-efficient kernel.
bool sdpa_runs_math_path(const ModelSpec& m, const ExecContext& c, bool sliding);

}  // namespace zplan

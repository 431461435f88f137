// score_ops.h: the elementwise work over the T x T scores of attention paths that materialise them
// (eager attention and SDPA's math path, planner/memory/sdpa_kernel.h), op by op as the code that
// runs does it; step_terms.cpp prices their two products as batched GEMMs beside these.
#pragma once
#include "planner/config/model_spec.h"
#include "planner/memory/exec_context.h"

namespace zplan {

// HBM bytes per score of one layer's forward and of its backward, and elementwise launches per
// layer forward (the two products not included).
struct ScoreOps {
  double forward_bytes = 0, backward_bytes = 0, kernels = 0;
};

// transformers' eager_attention_forward and the runtime's attention_core; a = the compute dtype's
// bytes.
ScoreOps eager_attention_score_ops(const ModelSpec& m, const ExecContext& c, double a);

// ATen's _scaled_dot_product_attention_math on fp32 scores.
ScoreOps sdpa_math_score_ops();

}  // namespace zplan

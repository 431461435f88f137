// ExecContext: the facts about one training step that decide tensor sizes and dtypes, derived once
// from TrainingSpec + Strategy so that every memory term reads them the same way.
#pragma once
#include <cstdint>

#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "planner/memory/precision_recipe.h"

namespace zplan {

struct ExecContext {
  Precision precision = Precision::bf16;
  Attention attention = Attention::sdpa;
  Profile profile = Profile::zplan;
  Framework framework = Framework::plain;
  int64_t micro_batch = 1;     // B
  int64_t seq_len = 0;         // T (whole sequence)
  int sp_degree = 1;           // Ulysses degree
  int64_t world_size = 1;
  int zero_stage = 0;
  bool offload_optimizer = false;  // the optimizer step runs on the host (DeepSpeedCPUAdam)
  bool autocast = false;       // amp-* recipes: matmuls run in 16-bit on fp32 params
  int param_bytes = 2;         // stored params (4 under AMP/fp32)
  int compute_bytes = 2;       // matmul outputs / activations
  int residual_bytes = 2;      // residual stream dtype = param dtype (embedding output)
  ExpertsImpl experts = ExpertsImpl::grouped_mm;
  // zplan's runtime runs Llama/Qwen RMSNorms through at::_fused_rms_norm (training_spec.h NormImpl):
  // its own profile, the fused choice, and no autocast (input and weight share a dtype).
  bool fused_rms_norm = false;
  // zplan's runtime updates the fp32 masters of a 16-bit recipe from the 16-bit gradients in one
  // kernel (training_spec.h AdamWImpl): its own profile, the fused choice, a recipe with masters.
  bool fused_master_adamw = false;
  // zplan's runtime runs SwiGLU and RoPE as its own kernels (training_spec.h ElementwiseImpl): a
  // silu-gated dense MLP then keeps gate and up, not silu's output (swiglu_keeps_inputs_only).
  bool fused_elementwise = false;
  // zplan's runtime computes the plain loss path's cross-entropy with its own kernels
  // (training_spec.h CrossEntropyImpl; loss_path.h has the tensors).
  bool fused_cross_entropy = false;
  bool use_cache = false;

  // Tokens one rank processes outside attention: B * T / SP.
  int64_t tokens_per_rank() const { return micro_batch * seq_len / sp_degree; }
};

ExecContext make_exec_context(const TrainingSpec& training, const Strategy& strategy,
                              int64_t world_size);

}  // namespace zplan

// Derivation of ExecContext from the user's specs (see exec_context.h).
#include "planner/memory/exec_context.h"

namespace zplan {

ExecContext make_exec_context(const TrainingSpec& training, const Strategy& strategy,
                              int64_t world_size) {
  ExecContext c;
  c.precision = strategy.precision;
  c.attention = training.attention;
  c.profile = training.profile;
  c.framework = training.framework;
  // A ZeRO stage or an offload on a "plain" setup means DeepSpeed (it is what provides them, also
  // on one GPU).
  if (c.framework == Framework::plain &&
      (strategy.zero_stage > 0 || strategy.offload_optimizer || strategy.offload_params))
    c.framework = Framework::deepspeed;
  c.micro_batch = strategy.micro_batch;
  c.seq_len = training.seq_len;
  c.sp_degree = strategy.sp_degree;
  c.world_size = world_size;
  c.zero_stage = strategy.zero_stage;
  c.offload_optimizer = strategy.offload_optimizer;
  const PrecisionRecipe r = precision_recipe(strategy.precision);
  c.autocast = strategy.precision == Precision::amp_bf16 || strategy.precision == Precision::amp_fp16;
  c.param_bytes = r.param_bytes;
  c.compute_bytes = r.compute_bytes;
  c.residual_bytes = r.param_bytes;
  if (c.framework == Framework::fsdp2 && c.autocast) {
    // FSDP2's MixedPrecisionPolicy(param_dtype=bf16) runs the module on 16-bit copies of the
    // fp32 shards: no autocast, activations and the residual stream in 16 bits.
    c.autocast = false;
    c.param_bytes = c.residual_bytes = c.compute_bytes;
  }
  c.experts = training.experts;
  c.fused_rms_norm = c.profile == Profile::zplan && training.norm == NormImpl::fused && !c.autocast;
  c.fused_master_adamw = c.profile == Profile::zplan && training.adamw == AdamWImpl::fused_master &&
                         has_fp32_master(strategy.precision);
  c.fused_elementwise = c.profile == Profile::zplan && training.elementwise == ElementwiseImpl::fused;
  c.fused_cross_entropy = c.profile == Profile::zplan && training.cross_entropy == CrossEntropyImpl::fused;
  c.use_cache = training.use_cache;
  return c;
}

}  // namespace zplan

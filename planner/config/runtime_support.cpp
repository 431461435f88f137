// What zplan's runtime executes (see runtime_support.h).
#include "planner/config/runtime_support.h"

#include <string>

namespace zplan {

bool runtime_runs_sp_degree(const ModelSpec& m, int degree) {
  return degree <= 1 || m.kv_heads <= 0 || m.kv_heads % degree == 0 || degree % m.kv_heads == 0;
}

StrategyCheck check_runtime_support(const ModelSpec& m, const TrainingSpec& t, const Strategy& s, bool cuda, int world) {
  using D = StrategyDimension;
  const int p = s.sp_degree;
  if (p < 1 || world % p != 0) return StrategyProblem{D::sp_degree, "--sp", "must divide the number of ranks (" + std::to_string(world) + ")"};
  if (p > 1 && m.heads % p != 0)
    return StrategyProblem{D::sp_degree, "--sp", "must divide the model's " + std::to_string(m.heads) + " attention heads"};
  if (!runtime_runs_sp_degree(m, p))
    return StrategyProblem{D::sp_degree, "--sp", "must divide the model's " + std::to_string(m.kv_heads) +
                                                     " KV heads or be a multiple of them (they are replicated)"};
  if (p > 1 && t.seq_len % p != 0) return StrategyProblem{D::sp_degree, "--seq", "must be a multiple of --sp " + std::to_string(p)};
  if (s.offload_optimizer && !kRuntimeSupport.offload_optimizer)
    return StrategyProblem{D::offload, "--offload-optimizer", "optimizer offload is not implemented by the runtime"};
  if (s.offload_params && !kRuntimeSupport.offload_params)
    return StrategyProblem{D::offload, "--offload-params", "parameter offload is not implemented by the runtime"};
  if (s.zero_stage < 0 || s.zero_stage > 3) return StrategyProblem{D::zero_stage, "--zero", "must be 0..3"};
  const bool autocast = s.precision == Precision::amp_bf16 || s.precision == Precision::amp_fp16 ||
                        s.precision == Precision::bf16_pure;
  if (autocast && !kRuntimeSupport.autocast_precisions)
    return StrategyProblem{D::precision, "--precision",
                           "amp-bf16/amp-fp16/bf16-pure are not implemented by the runtime; use bf16, fp16 or fp32"};
  if (s.precision == Precision::fp16 && !cuda && !kRuntimeSupport.fp16_on_cpu)
    return StrategyProblem{D::precision, "--precision", "fp16 needs a CUDA device (CPU kernels lack fp16 matmuls)"};
  if (s.checkpointed_layers < 0 || s.checkpointed_layers > m.layers)
    return StrategyProblem{D::recompute, "--ckpt", "must be 0.." + std::to_string(m.layers) + " checkpointed layers"};
  if (s.micro_batch < 1) return StrategyProblem{D::batch, "--micro-batch", "must be >= 1"};
  if (s.grad_accumulation < 1) return StrategyProblem{D::batch, "--grad-accum", "must be >= 1"};
  if (t.seq_len < 1) return StrategyProblem{D::scenario, "--seq", "must be >= 1"};
  if (StrategyCheck problem = check_loss_path(s, t)) return problem;  // --loss-chunks: 0..tokens of one sequence on one rank
  if (m.position == PositionKind::learned && t.seq_len > m.max_positions)
    return StrategyProblem{D::scenario, "--seq", "exceeds the model's " + std::to_string(m.max_positions) + " learned positions"};
  return std::nullopt;
}

}  // namespace zplan

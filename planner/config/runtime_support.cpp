// What zplan's runtime executes (see runtime_support.h).
#include "planner/config/runtime_support.h"

#include <string>

namespace zplan {

bool runtime_runs_sp_degree(const ModelSpec& m, int degree) {
  return degree <= 1 || m.kv_heads <= 0 || m.kv_heads % degree == 0 || degree % m.kv_heads == 0;
}

void pin_search_to_runtime(Scenario& s) {
  if (s.training.profile != Profile::zplan) return;
  StrategyPins& p = s.pins;
  const int world = s.cluster.world_size();
  if (!p.zero_stage && world == 1) p.zero_stage = 0;
  if (!p.offload_optimizer && !kRuntimeSupport.offload_optimizer) p.offload_optimizer = false;
  if (!p.offload_params && !kRuntimeSupport.offload_params) p.offload_params = false;
  bool every_sp_runs = true;
  for (int d = 2; d <= world; ++d)
    if (world % d == 0 && s.model.heads % d == 0 && !runtime_runs_sp_degree(s.model, d)) every_sp_runs = false;
  if (!p.sp_degree && (world == 1 || !every_sp_runs)) p.sp_degree = 1;
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
  const bool amp = s.precision == Precision::amp_bf16 || s.precision == Precision::amp_fp16;
  if (amp && !kRuntimeSupport.amp_precisions)
    return StrategyProblem{D::precision, "--precision", "amp-bf16/amp-fp16 are not implemented by the runtime; use bf16, fp16 or fp32"};
  if (s.precision == Precision::bf16_pure && !kRuntimeSupport.bf16_pure)
    return StrategyProblem{D::precision, "--precision", "bf16-pure is not implemented by the runtime; use bf16, amp-bf16, fp16 or fp32"};
  if (is_fp16(s.precision) && !cuda && !kRuntimeSupport.fp16_on_cpu)
    return StrategyProblem{D::precision, "--precision", std::string(to_string(s.precision)) +
                                                            " needs a CUDA device (CPU kernels and CPU autocast lack fp16); "
                                                            "use bf16 or amp-bf16 on CPU"};
  if (amp && s.loss_chunks > 0 && !kRuntimeSupport.chunked_loss_under_autocast)
    return StrategyProblem{D::loss_path, "--loss-chunks", "the chunked loss does not run under autocast (" +
                                                              std::string(to_string(s.precision)) + "); use --loss-chunks 0"};
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

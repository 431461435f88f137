// Strategy validation (see validate.h).
#include "planner/config/validate.h"

#include <algorithm>
#include <string>

#include "planner/input_error.h"

namespace zplan {

void validate_training(const TrainingSpec& t, const ModelSpec& m) {
  if (t.seq_len <= 0) throw InputError("--seq", "", "must be a positive number of tokens, got " + std::to_string(t.seq_len));
  if (t.seq_len > 16'777'216)
    throw InputError("--seq", "", "absurd sequence length " + std::to_string(t.seq_len) + " (limit 16M tokens)");
  if (m.position == PositionKind::learned && m.max_positions > 0 && t.seq_len > m.max_positions)
    throw InputError("--seq", "", std::to_string(t.seq_len) + " exceeds " + m.name + "'s learned position table of " +
                                      std::to_string(m.max_positions) + " positions");
  if (t.global_batch < 0) throw InputError("--global-batch", "", "must be positive");
}

StrategyCheck check_offload(const Strategy& s) {
  if (s.offload_params && s.zero_stage != 3)
    return StrategyProblem{StrategyDimension::offload, "--offload-params",
                           "parameter offload needs ZeRO stage 3 (the stage that partitions parameters), got stage " +
                               std::to_string(s.zero_stage) + "; use --zero 3 or --offload-params none"};
  if (s.offload_optimizer && s.zero_stage == 0)
    return StrategyProblem{StrategyDimension::offload, "--offload-optimizer",
                           "optimizer offload needs ZeRO stage 1, 2 or 3, got stage 0; use --zero 2 or --offload-optimizer none"};
  return std::nullopt;
}

StrategyCheck check_cpu_checkpointing(const Strategy& s) {
  if (s.cpu_checkpointing && s.checkpointed_layers == 0)
    return StrategyProblem{StrategyDimension::recompute, "--cpu-ckpt",
                           "CPU checkpointing moves checkpoints to the host: it needs --ckpt full or N > 0"};
  return std::nullopt;
}

StrategyCheck check_parallel(const Strategy& s, const ModelSpec& m, const ClusterSpec& c, const TrainingSpec& t) {
  using D = StrategyDimension;
  if (s.zero_stage < 0 || s.zero_stage > 3)
    return StrategyProblem{D::zero_stage, "--zero", "expected 0, 1, 2 or 3, got " + std::to_string(s.zero_stage)};
  if (StrategyCheck p = check_offload(s)) return p;
  if (s.sp_degree < 1) return StrategyProblem{D::sp_degree, "--sp", "must be >= 1, got " + std::to_string(s.sp_degree)};
  if (s.sp_degree > 1) {
    const std::string degree = std::to_string(s.sp_degree);
    if (c.world_size() % s.sp_degree != 0)
      return StrategyProblem{D::sp_degree, "--sp", "degree " + degree + " does not divide the " +
                                                       std::to_string(c.world_size()) + " GPUs"};
    if (t.seq_len % s.sp_degree != 0)
      return StrategyProblem{D::sp_degree, "--sp", "sequence length " + std::to_string(t.seq_len) +
                                                       " is not divisible by degree " + degree};
    if (m.heads % s.sp_degree != 0)
      return StrategyProblem{D::sp_degree, "--sp", m.name + " has " + std::to_string(m.heads) +
                                                       " attention heads, not divisible by degree " + degree};
    if (t.attention == Attention::eager)
      return StrategyProblem{D::sp_degree, "--attn", "Ulysses rejects eager attention (it needs an O(T^2) mask); use sdpa or flash"};
  }
  if (s.micro_batch < 1) return StrategyProblem{D::batch, "--micro-batch", "must be >= 1, got " + std::to_string(s.micro_batch)};
  if (s.micro_batch > 65536) return StrategyProblem{D::batch, "--micro-batch", "absurd micro-batch " + std::to_string(s.micro_batch)};
  if (s.grad_accumulation < 1)
    return StrategyProblem{D::batch, "--grad-accum", "must be >= 1, got " + std::to_string(s.grad_accumulation)};
  return std::nullopt;
}

StrategyCheck check_recompute(const Strategy& s, const ModelSpec& m) {
  if (s.checkpointed_layers < 0 || s.checkpointed_layers > m.layers)
    return StrategyProblem{StrategyDimension::recompute, "--ckpt",
                           "checkpointed layers must be in 0.." + std::to_string(m.layers) + " for " + m.name + ", got " +
                               std::to_string(s.checkpointed_layers)};
  return check_cpu_checkpointing(s);
}

StrategyCheck check_loss_path(const Strategy& s, const TrainingSpec& t) {
  // Each chunk needs at least one token of the shortest micro-step (one sequence, split by Ulysses).
  const int64_t tokens = t.seq_len / std::max(1, s.sp_degree);
  if (s.loss_chunks < 0 || s.loss_chunks > tokens)
    return StrategyProblem{StrategyDimension::loss_path, "--loss-chunks",
                           "must be 0 (whole logits) or 1.." + std::to_string(tokens) +
                               " (the tokens of one sequence on one rank), got " + std::to_string(s.loss_chunks)};
  return std::nullopt;
}

StrategyCheck check_precision(const Strategy& s, const ClusterSpec& c) {
  const bool wants_bf16 = s.precision == Precision::bf16 || s.precision == Precision::amp_bf16 ||
                          s.precision == Precision::bf16_pure;
  if (wants_bf16 && !c.gpu.supports_bf16)
    return StrategyProblem{StrategyDimension::precision, "--precision",
                           c.gpu.name + " has no bf16 support; use fp16 or amp-fp16 (with loss scaling)"};
  return std::nullopt;
}

StrategyCheck check_strategy(const Strategy& s, const ModelSpec& m, const ClusterSpec& c, const TrainingSpec& t) {
  if (StrategyCheck p = check_parallel(s, m, c, t)) return p;
  if (StrategyCheck p = check_recompute(s, m)) return p;
  if (StrategyCheck p = check_loss_path(s, t)) return p;
  // Only zplan's runtime has a chunked loss; Hugging Face's would be Liger-Kernel's fused linear
  // cross-entropy, whose buffers are not modelled (planner/memory/loss_path.h).
  if (s.loss_chunks > 1 && t.profile != Profile::zplan)
    return StrategyProblem{StrategyDimension::loss_path, "--loss-chunks",
                           "the chunked loss path is zplan's runtime's (--profile zplan, or --run); "
                           "Liger-Kernel's fused linear cross-entropy under Hugging Face is not modelled"};
  return check_precision(s, c);
}

void throw_if(const StrategyCheck& problem) {
  if (problem) throw InputError(problem->flag, "", problem->message);
}

void validate_loss_path(const Strategy& s, const TrainingSpec& t) { throw_if(check_loss_path(s, t)); }

void validate_strategy(const Strategy& s, const ModelSpec& m, const ClusterSpec& c, const TrainingSpec& t) {
  validate_training(t, m);
  throw_if(check_strategy(s, m, c, t));
}

}  // namespace zplan

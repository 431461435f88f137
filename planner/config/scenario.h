// Scenario: the three things a plan is made for (model, machine, training), plus the strategy
// dimensions the user pinned. Unpinned dimensions (std::nullopt) are searched by planner/search/.
#pragma once
#include <optional>

#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"

namespace zplan {

struct StrategyPins {
  std::optional<int> zero_stage;
  std::optional<bool> offload_optimizer;
  std::optional<bool> offload_params;
  std::optional<int64_t> checkpointed_layers;  // "full" pins L once the model is known
  std::optional<bool> checkpoint_full;         // --ckpt full (resolved to L later)
  std::optional<bool> cpu_checkpointing;
  std::optional<int> sp_degree;
  std::optional<int64_t> loss_chunks;          // --loss-chunks (0/1: whole logits)
  std::optional<int64_t> micro_batch;
  std::optional<int64_t> grad_accumulation;
  std::optional<Precision> precision;
};

struct Scenario {
  ModelSpec model;
  ClusterSpec cluster;
  TrainingSpec training;
  StrategyPins pins;
};

// The one configuration a scenario runs when nothing is searched: each pinned dimension as
// pinned, each other one as a user who did not set it runs it (ZeRO 0, no offload, no recompute,
// SP 1, micro-batch 1, no accumulation, bf16 where the GPU has it, else fp16).
Strategy strategy_with_defaults(const Scenario& s);

}  // namespace zplan

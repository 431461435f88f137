// Validation of a strategy against its model, cluster and training spec, split by concern
// (torchtitan ParallelDims._validate habit). The rules are written once, in the check_* functions:
// each returns the first rule a Strategy breaks (the flag and the offending numbers) without
// throwing, so the search and --explain can ask whether a combination exists; validate_* throw
// that problem as an InputError.
#pragma once
#include <optional>
#include <string>

#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"

namespace zplan {

// The choice of a Strategy a rule is about: what a search varies and a user pins.
// scenario: not a choice of the strategy but the sequence or model it is checked against.
enum class StrategyDimension { zero_stage, offload, sp_degree, batch, recompute, loss_path, precision, scenario };

struct StrategyProblem {
  StrategyDimension dimension;
  std::string flag;     // the command-line flag that sets it, e.g. "--sp"
  std::string message;  // what is wrong, with the numbers
};
using StrategyCheck = std::optional<StrategyProblem>;

// The rules that need no model or cluster (the CLI checks its pins with them before a scenario exists).
StrategyCheck check_offload(const Strategy& s);            // offloads against the ZeRO stage
StrategyCheck check_cpu_checkpointing(const Strategy& s);  // CPU checkpoints need checkpointed layers
// check_parallel includes check_offload; check_recompute includes check_cpu_checkpointing.
StrategyCheck check_parallel(const Strategy& s, const ModelSpec& m, const ClusterSpec& c, const TrainingSpec& t);
StrategyCheck check_recompute(const Strategy& s, const ModelSpec& m);
StrategyCheck check_loss_path(const Strategy& s, const TrainingSpec& t);
StrategyCheck check_precision(const Strategy& s, const ClusterSpec& c);
// All of the above, in that order (plus: a chunked loss only under zplan's runtime).
StrategyCheck check_strategy(const Strategy& s, const ModelSpec& m, const ClusterSpec& c, const TrainingSpec& t);

// Throwing forms (InputError naming the flag).
void validate_training(const TrainingSpec& t, const ModelSpec& m);
void validate_loss_path(const Strategy& s, const TrainingSpec& t);
// validate_training, then check_strategy.
void validate_strategy(const Strategy& s, const ModelSpec& m, const ClusterSpec& c, const TrainingSpec& t);
// Throws `problem` as an InputError when there is one.
void throw_if(const StrategyCheck& problem);

}  // namespace zplan

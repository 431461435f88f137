// Validation of a strategy against its model, cluster and training spec, split by concern
// (torchtitan ParallelDims._validate habit). Each failure throws InputError naming the flag and
// the offending numbers.
#pragma once
#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"

namespace zplan {

void validate_training(const TrainingSpec& t, const ModelSpec& m);
void validate_parallel(const Strategy& s, const ModelSpec& m, const ClusterSpec& c, const TrainingSpec& t);
void validate_recompute(const Strategy& s, const ModelSpec& m);
void validate_loss_path(const Strategy& s, const TrainingSpec& t);
void validate_precision(const Strategy& s, const ClusterSpec& c);
// All of the above.
void validate_strategy(const Strategy& s, const ModelSpec& m, const ClusterSpec& c, const TrainingSpec& t);

}  // namespace zplan

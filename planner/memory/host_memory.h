// Host RAM per node: per-process baseline, the transient full-model copy while loading, offloaded
// optimizer state and parameters, CPU checkpoints and pinned staging buffers (docs/memory-model.md §6, Host RAM;
// DeepSpeed issues #5290, #1891).
#pragma once
#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "planner/memory/exec_context.h"
#include "planner/memory/memory_breakdown.h"

namespace zplan {

HostMemory estimate_host_memory(const ModelSpec& m, const ClusterSpec& cluster,
                                const TrainingSpec& training, const Strategy& s,
                                const ExecContext& c);

}  // namespace zplan

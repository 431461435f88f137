// Estimate: the planner's prediction for one fully specified configuration — the per-rank GPU
// MemoryBreakdown with phase values, host RAM, step time and the verdict against capacity.
#pragma once
#include <string>

#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "planner/cost/step_time.h"
#include "planner/memory/memory_breakdown.h"

namespace zplan {

struct EstimateOptions {
  double margin = 0.0;               // fraction of device memory kept free (planner search default 0.05)
  bool expandable_segments = false;  // PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
  CostOptions cost;
  // Search screening: no tensor names and no caching-allocator replay (reserved = allocated).
  // Finalists are always re-estimated in full.
  bool fast = false;
};

struct Estimate {
  Strategy strategy;
  MemoryBreakdown memory;           // busiest rank
  StepTime time;
  int64_t parameters = 0;
  uint64_t gpu_limit_bytes = 0;     // capacity x (1 - margin)
  bool gpu_fits = false;
  bool host_fits = false;
  bool feasible = false;
  int alloc_retries = 0;            // predicted cache flushes (a sign of pressure)
  std::string largest_at_peak;      // the single largest allocation live at the peak
  std::string verdict;              // one line: what fits or which limit is exceeded, by how much
};

// Validates (throws InputError) and predicts.
Estimate estimate(const ModelSpec& m, const ClusterSpec& cluster, const TrainingSpec& training,
                  const Strategy& s, const EstimateOptions& options = {});

std::string format_bytes(uint64_t bytes);  // "12.34 GiB"

}  // namespace zplan

// Estimate: the planner's prediction for one fully specified configuration — the per-rank GPU
// MemoryBreakdown with phase values, host RAM, step time and the verdict against capacity.
#pragma once
#include <string>

#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "planner/cost/step_time.h"
#include "planner/memory/memory_breakdown.h"
#include "planner/validation/uncertainty.h"

namespace zplan {

class TimelineCache;

struct EstimateOptions {
  // Fraction of device memory that must stay free at the peak whatever the band (--margin); the
  // verdict asks for max(band, margin x capacity). 0 by default: the band is the measured margin.
  double margin = 0.0;
  // torch.cuda.set_per_process_memory_fraction (--memory-fraction): the caching allocator may
  // reserve at most this fraction of the device. 1 = no cap, as PyTorch runs by default.
  double memory_fraction = 1.0;
  bool expandable_segments = false;  // PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
  CostOptions cost;
  // Search screening: no tensor names and no caching-allocator replay (reserved = allocated, so the
  // free memory is an upper bound). Finalists are always re-estimated in full.
  bool fast = false;
  // With `fast`: peak-memory results shared between estimates of one model and training spec
  // (planner/memory/timeline_cache.h); none when null.
  TimelineCache* timeline_cache = nullptr;
};

struct Estimate {
  Strategy strategy;
  MemoryBreakdown memory;           // busiest rank
  StepTime time;
  int64_t parameters = 0;
  uint64_t gpu_limit_bytes = 0;     // device capacity: reserved + outside-allocator bytes stay under it
  uint64_t allocator_limit_bytes = 0;  // what the allocator may reserve: capacity - outside, or the fraction
  uint64_t free_bytes = 0;          // memory the run could still take at its peak before an OOM
  uint64_t uncertainty_bytes = 0;   // the path's measured band x predicted reserved
  uint64_t required_free_bytes = 0; // max(uncertainty, margin x capacity): what "fits" asks to stay free
  Uncertainty uncertainty;          // the band and where it was measured
  bool gpu_fits = false;            // the point prediction fits (replay finds every block, total <= capacity)
  bool band_covered = false;        // ... and the free memory covers the band
  bool host_fits = false;
  bool feasible = false;            // gpu_fits && band_covered && host_fits
  int alloc_retries = 0;            // predicted cache flushes (a sign of pressure)
  std::string largest_at_peak;      // the single largest allocation live at the peak
  std::string verdict;              // one line: what fits or which limit is exceeded, by how much
};

// Validates (throws InputError) and predicts.
Estimate estimate(const ModelSpec& m, const ClusterSpec& cluster, const TrainingSpec& training,
                  const Strategy& s, const EstimateOptions& options = {});

// "this path: ±8.5% = ±6.0 GiB over 134 runs" / "path never measured: ±15.1% (borrowed from ...)".
std::string uncertainty_text(const Estimate& e);

}  // namespace zplan

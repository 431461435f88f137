// Orchestrates one prediction (see estimate.h): timeline -> allocated peak and phases, caching
// allocator replay -> reserved, outside-allocator overheads, host RAM, step time, verdict.
#include "planner/estimate.h"
#include "planner/memory/timeline_cache.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "planner/config/validate.h"
#include "planner/format.h"
#include "planner/memory/caching_allocator.h"
#include "planner/memory/exec_context.h"
#include "planner/memory/host_memory.h"
#include "planner/memory/memory_category.h"
#include "planner/memory/overheads.h"
#include "planner/memory/params.h"
#include "planner/memory/step_simulation.h"
#include "planner/validation/bands.h"

namespace zplan {

std::string uncertainty_text(const Estimate& e) {
  const Uncertainty& u = e.uncertainty;
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.1f%%", 100.0 * u.fraction);
  const std::string band = std::string("±") + pct + " = ±" + format_bytes(e.uncertainty_bytes);
  if (u.measured_runs > 0) return "this path: " + band + " over " + std::to_string(u.measured_runs) + " runs";
  if (u.borrowed_from.empty()) return "path never measured, no band known";
  return "path never measured: " + band + ", the widest band of " + u.borrowed_from + " (" +
         std::to_string(u.borrowed_runs) + " runs)";
}

namespace {

// Why the caching allocator failed although peak allocated + context fit under the limit: the
// segment it needed did not fit beside what was reserved, and the cached free space was in blocks
// too small (or on the wrong stream) to serve it.
std::string allocator_cause(const AllocatorResult& ar) {
  const uint64_t cached = ar.reserved_at_failure_bytes > ar.allocated_at_failure_bytes
                              ? ar.reserved_at_failure_bytes - ar.allocated_at_failure_bytes
                              : 0;
  return ", because the caching allocator cannot reserve a " + format_bytes(ar.failed_request_bytes) +
         " segment beside the " + format_bytes(ar.reserved_at_failure_bytes) + " it holds (" +
         format_bytes(ar.allocated_at_failure_bytes) + " allocated, " + format_bytes(cached) +
         " cached in free blocks none of which fits the request: fragmentation)";
}

}  // namespace

Estimate estimate(const ModelSpec& m, const ClusterSpec& cluster, const TrainingSpec& training,
                  const Strategy& s, const EstimateOptions& options) {
  validate_strategy(s, m, cluster, training);
  Estimate e;
  e.strategy = s;
  e.parameters = model_tables(m).counts.total;
  const ExecContext c = make_exec_context(training, s, cluster.world_size());
  // The screen needs only the simulated peak, which a cache may already hold (timeline_cache.h);
  // the full estimate also replays the timeline through the caching allocator.
  TimelineCache* cache = options.fast ? options.timeline_cache : nullptr;
  const TimelineResult* cached = cache ? cache->find(s, cluster.world_size()) : nullptr;
  std::optional<Timeline> timeline;
  if (!cached)
    timeline.emplace(build_step_timeline(m, training, s, c,
                                         options.fast ? TimelineRecording::peak_only : TimelineRecording::named_events));
  const TimelineResult tr = cached ? *cached : cache ? cache->put(s, cluster.world_size(), simulate(*timeline)) : simulate(*timeline);

  MemoryBreakdown& mb = e.memory;
  for (const CategoryInfo& k : kCategories) mb.*(k.member) = tr.at_peak[static_cast<size_t>(k.category)];
  mb.peak_allocated_bytes = tr.peak_bytes;
  mb.peak_phase = tr.peak_phase;
  for (size_t i = 0; i < static_cast<size_t>(Phase::count); ++i) mb.phases.push_back(tr.phases[i]);
  e.largest_at_peak = tr.largest_at_peak;

  const OutsideAllocator outside = outside_allocator_bytes(c);
  mb.cuda_context_bytes = outside.total();
  mb.capacity_bytes = cluster.gpu.memory_bytes;
  e.gpu_limit_bytes = mb.capacity_bytes;
  // The allocator takes what the context and NCCL leave; with a memory fraction PyTorch also stops
  // it at fraction x the device total (CUDACachingAllocator's allowed_memory_maximum).
  const uint64_t beside_outside = mb.capacity_bytes > mb.cuda_context_bytes ? mb.capacity_bytes - mb.cuda_context_bytes : 1;
  const uint64_t by_fraction = static_cast<uint64_t>(static_cast<double>(mb.capacity_bytes) * options.memory_fraction);
  e.allocator_limit_bytes = std::min(beside_outside, by_fraction);
  AllocatorOptions ao;
  ao.device_limit_bytes = e.allocator_limit_bytes;
  ao.expandable_segments = options.expandable_segments;
  AllocatorResult ar;
  if (options.fast) {
    ar.peak_reserved_bytes = ar.peak_allocated_bytes = tr.peak_bytes;
    ar.out_of_memory = tr.peak_bytes > ao.device_limit_bytes;
  } else {
    ar = replay_caching_allocator(*timeline, ao);
  }
  e.alloc_retries = ar.alloc_retries;
  // Reserved is never below allocated: the replay's own accounting can serve a request from a cached
  // block where the timeline charged a fresh segment, so it is held to the timeline's peak (which also
  // makes the search's screen, reserved = allocated, a true bound).
  mb.reserved_bytes = std::max(ar.peak_reserved_bytes, tr.peak_bytes);
  mb.fragmentation_bytes = mb.reserved_bytes > mb.peak_allocated_bytes ? mb.reserved_bytes - mb.peak_allocated_bytes : 0;
  if (ar.out_of_memory && ar.reserved_at_failure_bytes > ar.allocated_at_failure_bytes)
    mb.fragmentation_bytes = std::max(mb.fragmentation_bytes, ar.reserved_at_failure_bytes - ar.allocated_at_failure_bytes);

  mb.host = estimate_host_memory(m, cluster, training, s, c);
  e.time = estimate_step_time(m, cluster, training, s, options.cost);

  const uint64_t total = mb.device_total_bytes();
  e.gpu_fits = !ar.out_of_memory && tr.peak_bytes <= e.allocator_limit_bytes && total <= e.gpu_limit_bytes;
  if (e.gpu_fits)
    e.free_bytes = std::min(e.allocator_limit_bytes - std::min(e.allocator_limit_bytes, mb.reserved_bytes),
                            e.gpu_limit_bytes - total);
  e.uncertainty = uncertainty_for(path_key(training, s, cluster.world_size()));
  e.uncertainty_bytes = static_cast<uint64_t>(e.uncertainty.fraction * static_cast<double>(mb.reserved_bytes));
  e.required_free_bytes = std::max(e.uncertainty_bytes, static_cast<uint64_t>(options.margin * static_cast<double>(mb.capacity_bytes)));
  e.band_covered = e.gpu_fits && e.free_bytes >= e.required_free_bytes;
  e.host_fits = mb.host.capacity_bytes == 0 || mb.host.peak_bytes <= mb.host.capacity_bytes;
  e.feasible = e.band_covered && e.host_fits;
  const std::string limit_text = format_bytes(e.allocator_limit_bytes < beside_outside ? by_fraction : e.gpu_limit_bytes) +
                                 (e.allocator_limit_bytes < beside_outside ? " (memory fraction)" : "");
  const std::string required_text =
      e.required_free_bytes > e.uncertainty_bytes ? "the --margin's " + format_bytes(e.required_free_bytes) : uncertainty_text(e);
  if (!e.gpu_fits && e.allocator_limit_bytes < beside_outside && tr.peak_bytes > e.allocator_limit_bytes) {
    e.verdict = "OOM: the caching allocator needs " + format_bytes(tr.peak_bytes) + " (peak allocated) of the " +
                format_bytes(e.allocator_limit_bytes) + " the memory fraction allows it, over by " +
                format_bytes(tr.peak_bytes - e.allocator_limit_bytes) + "; peak in " + to_string(tr.peak_phase) +
                ", largest tensor " + tr.largest_at_peak;
  } else if (!e.gpu_fits) {
    const uint64_t need = tr.peak_bytes + mb.cuda_context_bytes;
    e.verdict = "OOM: GPU needs " + format_bytes(need) + " (peak allocated " + format_bytes(tr.peak_bytes) +
                " + CUDA context and NCCL " + format_bytes(mb.cuda_context_bytes) + ") of " + limit_text +
                (need > e.gpu_limit_bytes ? ", over by " + format_bytes(need - e.gpu_limit_bytes)
                 : ar.out_of_memory ? allocator_cause(ar) : ", over by " + format_bytes(total - e.gpu_limit_bytes) + " once reserved") +
                "; peak in " + to_string(tr.peak_phase) + ", largest tensor " + tr.largest_at_peak;
  } else if (!e.band_covered) {
    e.verdict = "AT RISK: GPU " + format_bytes(total) + " of " + limit_text + " leaves " + format_bytes(e.free_bytes) +
                " free, less than " + required_text + ": may OOM";
  } else if (!e.host_fits) {
    e.verdict = "OOM: host RAM needs " + format_bytes(mb.host.peak_bytes) + " of " + format_bytes(mb.host.capacity_bytes) +
                " per node, over by " + format_bytes(mb.host.peak_bytes - mb.host.capacity_bytes);
  } else {
    e.verdict = "FITS: GPU " + format_bytes(total) + " of " + limit_text + ", " + format_bytes(e.free_bytes) +
                " free at the peak (" + required_text + "), host " + format_bytes(mb.host.peak_bytes) + " of " +
                format_bytes(mb.host.capacity_bytes);
  }
  return e;
}

}  // namespace zplan

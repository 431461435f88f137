// Orchestrates one prediction (see estimate.h): timeline -> allocated peak and phases, caching
// allocator replay -> reserved, outside-allocator overheads, host RAM, step time, verdict.
#include "planner/estimate.h"

#include <cstdio>

#include "planner/config/validate.h"
#include "planner/memory/caching_allocator.h"
#include "planner/memory/exec_context.h"
#include "planner/memory/host_memory.h"
#include "planner/memory/overheads.h"
#include "planner/memory/params.h"
#include "planner/memory/step_simulation.h"

namespace zplan {

std::string format_bytes(uint64_t bytes) {
  char buf[64];
  const double gib = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
  if (gib >= 1.0) std::snprintf(buf, sizeof buf, "%.2f GiB", gib);
  else std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
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
  const Timeline timeline = build_step_timeline(m, training, s, c, !options.fast);
  const TimelineResult tr = simulate(timeline);

  MemoryBreakdown& mb = e.memory;
  auto at = [&](Category k) { return tr.at_peak[static_cast<size_t>(k)]; };
  mb.weights_bytes = at(Category::weights);
  mb.grads_bytes = at(Category::grads);
  mb.master_weights_bytes = at(Category::master_weights);
  mb.optimizer_states_bytes = at(Category::optimizer_states);
  mb.activations_bytes = at(Category::activations);
  mb.logits_bytes = at(Category::logits);
  mb.working_bytes = at(Category::working);
  mb.comm_buffers_bytes = at(Category::comm_buffers);
  mb.optimizer_temp_bytes = at(Category::optimizer_temp);
  mb.peak_allocated_bytes = tr.peak_bytes;
  mb.peak_phase = tr.peak_phase;
  for (size_t i = 0; i < static_cast<size_t>(Phase::count); ++i) mb.phases.push_back(tr.phases[i]);
  e.largest_at_peak = tr.largest_at_peak;

  const OutsideAllocator outside = outside_allocator_bytes(cluster, c);
  mb.cuda_context_bytes = outside.total();
  mb.capacity_bytes = cluster.gpu.memory_bytes;
  e.gpu_limit_bytes = static_cast<uint64_t>(static_cast<double>(mb.capacity_bytes) * (1.0 - options.margin));
  AllocatorOptions ao;
  ao.device_limit_bytes = e.gpu_limit_bytes > mb.cuda_context_bytes ? e.gpu_limit_bytes - mb.cuda_context_bytes : 1;
  ao.expandable_segments = options.expandable_segments;
  AllocatorResult ar;
  if (options.fast) {
    ar.peak_reserved_bytes = ar.peak_allocated_bytes = tr.peak_bytes;
    ar.out_of_memory = tr.peak_bytes > ao.device_limit_bytes;
  } else {
    ar = replay_caching_allocator(timeline, ao);
  }
  e.alloc_retries = ar.alloc_retries;
  mb.reserved_bytes = ar.out_of_memory ? std::max(ar.peak_reserved_bytes, tr.peak_bytes) : ar.peak_reserved_bytes;
  mb.fragmentation_bytes = mb.reserved_bytes > mb.peak_allocated_bytes ? mb.reserved_bytes - mb.peak_allocated_bytes : 0;
  if (ar.out_of_memory && ar.reserved_at_failure_bytes > ar.allocated_at_failure_bytes)
    mb.fragmentation_bytes = std::max(mb.fragmentation_bytes, ar.reserved_at_failure_bytes - ar.allocated_at_failure_bytes);

  mb.host = estimate_host_memory(m, cluster, training, s, c);
  e.time = estimate_step_time(m, cluster, training, s, options.cost);

  e.gpu_fits = !ar.out_of_memory && tr.peak_bytes + mb.cuda_context_bytes <= e.gpu_limit_bytes;
  e.host_fits = mb.host.capacity_bytes == 0 || mb.host.peak_bytes <= mb.host.capacity_bytes;
  e.feasible = e.gpu_fits && e.host_fits;
  if (!e.gpu_fits) {
    const uint64_t need = tr.peak_bytes + mb.cuda_context_bytes;
    e.verdict = "OOM: GPU needs " + format_bytes(need) + " (peak allocated " + format_bytes(tr.peak_bytes) +
                " + CUDA context " + format_bytes(mb.cuda_context_bytes) + ") of " + format_bytes(e.gpu_limit_bytes) +
                (need > e.gpu_limit_bytes ? ", over by " + format_bytes(need - e.gpu_limit_bytes) : allocator_cause(ar)) +
                "; peak in " + to_string(tr.peak_phase) + ", largest tensor " + tr.largest_at_peak;
  } else if (!e.host_fits) {
    e.verdict = "OOM: host RAM needs " + format_bytes(mb.host.peak_bytes) + " of " + format_bytes(mb.host.capacity_bytes) +
                " per node, over by " + format_bytes(mb.host.peak_bytes - mb.host.capacity_bytes);
  } else {
    e.verdict = "FITS: GPU " + format_bytes(mb.reserved_bytes + mb.cuda_context_bytes) + " of " +
                format_bytes(e.gpu_limit_bytes) + " (headroom " +
                format_bytes(e.gpu_limit_bytes - std::min(e.gpu_limit_bytes, mb.reserved_bytes + mb.cuda_context_bytes)) +
                "), host " + format_bytes(mb.host.peak_bytes) + " of " + format_bytes(mb.host.capacity_bytes);
  }
  return e;
}

}  // namespace zplan

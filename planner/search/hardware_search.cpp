// Hardware and price search (see hardware_search.h).
#include "planner/search/hardware_search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "planner/config/runtime_support.h"
#include "planner/input_error.h"
#include "planner/io/calibration_loader.h"
#include "planner/io/hardware_loader.h"
#include "planner/memory/params.h"
#include "planner/memory/precision_recipe.h"

namespace zplan {
namespace {

// The scenario on one candidate cluster. --profile zplan offers only what the runtime executes,
// and that depends on the GPU count (ZeRO 0 on one GPU, Ulysses degrees), so it is pinned here.
Scenario scenario_on(const Scenario& base, const ClusterSpec& cluster) {
  Scenario s = base;
  s.cluster = cluster;
  pin_search_to_runtime(s);
  return s;
}

Precision search_precision(const Scenario& s, const GpuSpec& gpu) {
  if (s.pins.precision) return *s.pins.precision;
  return gpu.supports_bf16 ? Precision::bf16 : Precision::fp16;
}

// Throughput no plan of this layout (stage, offloads, SP, precision) on `cluster` can exceed.
// Every weight is >= 0 and every term only adds time, and each term per token is smallest at the
// largest micro-batch the search tries (fixed per-step costs spread over more tokens, GEMM
// rooflines more compute-bound) and without recompute or CPU checkpoints: so the layout's step
// time at that micro-batch, no recompute, is a lower bound of any of its plans' per-token time.
// The largest micro-batch that can fit: the rank's model states plus the 16-bit logits of its
// tokens ([B·T/SP, V], alive at the loss in every profile) within the device limit.
double layout_bound(const Scenario& s, const ClusterSpec& cluster, Strategy layout, const CostOptions& cost, int64_t largest_micro_batch) {
  layout.micro_batch = s.pins.micro_batch.value_or(largest_micro_batch);
  layout.grad_accumulation = 1;
  layout.checkpointed_layers = 0;
  layout.cpu_checkpointing = false;
  const StepTime t = estimate_step_time(s.model, cluster, s.training, layout, cost);
  return t.tokens_per_second > 0 ? t.tokens_per_second : std::numeric_limits<double>::infinity();
}

double dollars_per_million(double price_per_gpu_hour, int gpus, double tokens_per_second) {
  return tokens_per_second > 0 ? price_per_gpu_hour * gpus / 3600.0 / tokens_per_second * 1e6 : std::numeric_limits<double>::infinity();
}

uint64_t model_state_bytes(const ModelSpec& m, Precision p) {
  const PrecisionRecipe r = precision_recipe(p);
  return static_cast<uint64_t>(static_cast<double>(count_parameters(m).total) *
                               (r.param_bytes + r.grad_bytes + r.master_bytes + r.optimizer_bytes));
}

}  // namespace

std::vector<int> gpu_counts(int max_gpus) {
  std::vector<int> out;
  for (int n = 1; n <= max_gpus; n *= 2) out.push_back(n);
  return out;
}

ClusterSpec cluster_of(const GpuSpec& gpu, int count) {
  const int per_node = std::min(count, 8);
  ClusterSpec c = cluster_from_gpus_flag(std::to_string(per_node) + "x" + gpu.name);
  c.gpu = gpu;  // keeps a --price override
  c.nodes = std::max(1, count / per_node);
  c.name = std::to_string(count) + "x" + gpu.name;
  return c;
}

int min_gpus_for_model_states(const ModelSpec& m, const ClusterSpec& node, Precision precision) {
  const double states = static_cast<double>(model_state_bytes(m, precision));
  const double per_gpu = static_cast<double>(node.gpu.memory_bytes) +
                         static_cast<double>(node.host_ram_bytes) / std::max(1, node.gpus_per_node);
  return static_cast<int>(std::ceil(states / std::max(1.0, per_gpu)));
}

HardwarePlan search_hardware(const Scenario& base, const std::vector<GpuSpec>& gpus, const HardwareSearchOptions& options) {
  HardwarePlan out;
  const bool by_cost = options.objective == HardwareObjective::cost;
  std::vector<HardwareCandidate> candidates;
  int smallest_minimum = std::numeric_limits<int>::max();
  std::string smallest_gpu;
  for (const GpuSpec& gpu : gpus) {
    const Precision prec = search_precision(base, gpu);
    const int minimum = min_gpus_for_model_states(base.model, cluster_of(gpu, 8), prec);
    if (minimum < smallest_minimum) smallest_minimum = minimum, smallest_gpu = gpu.name;
    const CostOptions cost = cost_options_for(gpu, base.training.profile, options.calibration);
    for (int n : gpu_counts(options.max_gpus)) {
      HardwareCandidate c;
      c.cluster = cluster_of(gpu, n);
      c.price_per_gpu_hour = gpu.price_per_gpu_hour;
      c.calibrated = !cost.calibration.empty();
      if (n < minimum) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "model states need %.0f GiB: at least %d GPUs with their host RAM",
                      static_cast<double>(model_state_bytes(base.model, prec)) / (1ull << 30), minimum);
        c.skipped = buf;
        out.others.push_back(c);
        continue;
      }
      // Layouts whose model states alone overflow the device are pruned by search_plan itself.
      const Scenario s = scenario_on(base, c.cluster);
      const double limit = static_cast<double>(gpu.memory_bytes) * (1.0 - options.search.estimate.margin);
      const int64_t psi = count_parameters(base.model).total;
      for (const Strategy& layout : search_layouts(s)) {
        const double states = static_cast<double>(model_state_bytes_per_rank(psi, layout, n));
        const double logits_per_sequence = static_cast<double>(base.training.seq_len) / layout.sp_degree *
                                           static_cast<double>(base.model.vocab) * 2.0;
        if (states + logits_per_sequence > limit) continue;  // not even one sequence fits
        int64_t largest = 1;
        while (largest < 64 && states + 2.0 * static_cast<double>(largest) * logits_per_sequence <= limit) largest *= 2;
        const double bound = layout_bound(s, c.cluster, layout, cost, largest);
        c.layouts.push_back({layout, bound});
        c.bound_tokens_per_second = std::max(c.bound_tokens_per_second, bound);
      }
      if (c.layouts.empty()) {
        c.skipped = "model states plus one sequence's logits overflow the GPU in every layout";
        out.others.push_back(c);
        continue;
      }
      candidates.push_back(c);
    }
  }
  bool any_large_enough = !candidates.empty();
  for (const HardwareCandidate& c : out.others) any_large_enough |= c.skipped.rfind("model states need", 0) != 0;
  if (!any_large_enough)
    throw InputError("--max-gpus", "", base.model.name + " needs at least " + std::to_string(smallest_minimum) + " x " + smallest_gpu +
                                           " to hold its model states (GPU memory plus host RAM); --max-gpus is " + std::to_string(options.max_gpus));
  auto bound_value = [&](const HardwareCandidate& c) {
    return by_cost ? dollars_per_million(c.price_per_gpu_hour, c.cluster.world_size(), c.bound_tokens_per_second) : -c.bound_tokens_per_second;
  };
  auto value = [&](const HardwareCandidate& c) { return by_cost ? c.dollars_per_million_tokens : -c.tokens_per_second; };
  // Every candidate in one queue, best bound first (fewer GPUs first among equal bounds: the cost
  // bound barely depends on the count). A candidate whose bound cannot beat the best plan found,
  // on any hardware, is not searched. Each searched candidate gets the plan `zplan --gpus` would
  // recommend on it (search_plan: its ranking rule, which may prefer more free memory within the
  // step-time model's error), so the hardware chosen is judged by the plan that would be run.
  struct Job {
    size_t candidate;
    double value;  // the bound in the objective's units, smaller is better
  };
  std::vector<Job> jobs;
  for (size_t i = 0; i < candidates.size(); ++i) jobs.push_back({i, bound_value(candidates[i])});
  std::stable_sort(jobs.begin(), jobs.end(), [&](const Job& a, const Job& b) {
    if (a.value != b.value) return a.value < b.value;
    return candidates[a.candidate].cluster.world_size() < candidates[b.candidate].cluster.world_size();
  });
  double best = std::numeric_limits<double>::infinity();
  for (const Job& job : jobs) {
    HardwareCandidate& c = candidates[job.candidate];
    if (job.value >= best) continue;  // pruned: reported below as not searched
    const Scenario on_cluster = scenario_on(base, c.cluster);
    SearchOptions so = options.search;
    so.objective = Objective::throughput;
    so.suggest = false;
    so.alternatives = 0;  // runners-up are re-estimated in full; only the chosen hardware's are reported
    so.estimate.cost = cost_options_for(c.cluster.gpu, base.training.profile, options.calibration);
    ++out.searched;
    c.searched = true;
    Plan p;
    try {
      p = search_plan(on_cluster, so);
    } catch (const InputError&) {
      continue;
    }
    out.layouts_searched += static_cast<int>(c.layouts.size());
    c.plan = p;  // when infeasible: the closest miss, for "what would be needed"
    if (!p.feasible) continue;
    c.tokens_per_second = p.chosen.time.tokens_per_second;
    c.dollars_per_million_tokens = dollars_per_million(c.price_per_gpu_hour, c.cluster.world_size(), c.tokens_per_second);
    best = std::min(best, value(c));
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    HardwareCandidate& c = candidates[i];
    if (!c.searched) {
      char buf[200];
      std::snprintf(buf, sizeof buf, by_cost ? "pruned: even its bound, $%.3f per million tokens, is no better than the best found"
                                             : "pruned: even its bound, %.0f tokens/s, is no better than the best found",
                    by_cost ? bound_value(c) : -bound_value(c));
      c.skipped = buf;
    }
    (c.plan.feasible ? out.ranked : out.others).push_back(c);
  }
  std::stable_sort(out.ranked.begin(), out.ranked.end(), [&](const HardwareCandidate& a, const HardwareCandidate& b) {
    if (value(a) != value(b)) return value(a) < value(b);
    return a.cluster.world_size() < b.cluster.world_size();
  });
  out.feasible = !out.ranked.empty();
  if (out.feasible) {  // the chosen hardware again, with its runner-up plans for the report
    HardwareCandidate& c = out.ranked.front();
    const Scenario s = scenario_on(base, c.cluster);
    SearchOptions so = options.search;
    so.objective = Objective::throughput;
    so.estimate.cost = cost_options_for(c.cluster.gpu, s.training.profile, options.calibration);
    c.plan = search_plan(s, so);
    c.tokens_per_second = c.plan.chosen.time.tokens_per_second;
    c.dollars_per_million_tokens = dollars_per_million(c.price_per_gpu_hour, c.cluster.world_size(), c.tokens_per_second);
  }
  if (!out.feasible) {
    // What would be needed: the candidate that came closest, and by how much it missed.
    const HardwareCandidate* closest = nullptr;
    for (const HardwareCandidate& c : out.others)
      if (c.searched && !c.plan.rejected.empty() &&
          (!closest || c.plan.rejected.front().over_bytes < closest->plan.rejected.front().over_bytes))
        closest = &c;
    out.needed = closest ? "no GPU type and count up to " + std::to_string(options.max_gpus) + " fits; closest: " + closest->cluster.name +
                               " (" + closest->plan.rejected.front().reason + "); try a larger --max-gpus, a shorter --seq or --offload-optimizer cpu"
                         : "no GPU type and count up to " + std::to_string(options.max_gpus) +
                               " fits: model states plus one sequence's logits overflow every layout; try a larger --max-gpus, --sp, or a shorter --seq";
  }
  return out;
}

}  // namespace zplan

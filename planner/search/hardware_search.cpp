// Hardware and price search (see hardware_search.h).
#include "planner/search/hardware_search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <queue>
#include <tuple>

#include "planner/config/runtime_support.h"
#include "planner/input_error.h"
#include "planner/io/calibration_loader.h"
#include "planner/io/hardware_loader.h"
#include "planner/memory/params.h"
#include "planner/memory/timeline_cache.h"
#include "planner/memory/precision_recipe.h"
#include "planner/search/screen_bound.h"

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
  return static_cast<uint64_t>(static_cast<double>(model_tables(m).counts.total) *
                               (r.param_bytes + r.grad_bytes + r.master_bytes + r.optimizer_bytes));
}

// One candidate's layouts as the branch and bound refines them: each layout's step-time bound
// until it is screened, then the screen's (the fastest candidate that passed it). The bound alone
// is screened (screen_bound.h): most candidates are pruned on it; a candidate searched in full
// screens its layouts again with their spaces, from the timeline cache.
struct Lazy {
  Scenario scenario;                                // on the candidate's cluster
  SearchOptions options;                            // its search (cost constants of its GPU)
  std::vector<Strategy> layouts;                    // search_layouts() order
  std::vector<double> bounds;                       // 0: not even one sequence's logits fit
  std::vector<bool> screened;                       // bounds[i] is the screen's
  double bound_of(size_t i) const { return bounds[i]; }
  void screen(size_t i) {
    bounds[i] = screened_layout_bound(scenario, options, layouts[i]);
    screened[i] = true;
  }
  size_t top() const {  // the layout that sets the candidate's bound
    size_t best = 0;
    for (size_t i = 1; i < layouts.size(); ++i)
      if (bound_of(i) > bound_of(best)) best = i;
    return best;
  }
};

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
  std::vector<Lazy> lazies;  // beside candidates
  TimelineCache timelines;   // the screen's peaks, shared by GPU types of one count
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
      const int64_t psi = model_tables(base.model).counts.total;
      Lazy z;
      for (const Strategy& layout : search_layouts(s)) {
        z.layouts.push_back(layout);
        z.bounds.push_back(0);
        z.screened.push_back(false);
        const double states = static_cast<double>(model_state_bytes_per_rank(psi, layout, n));
        const double logits_per_sequence = static_cast<double>(base.training.seq_len) / layout.sp_degree *
                                           static_cast<double>(base.model.vocab) * 2.0;
        if (states + logits_per_sequence > limit) continue;  // not even one sequence fits
        int64_t largest = 1;
        while (largest < 64 && states + 2.0 * static_cast<double>(largest) * logits_per_sequence <= limit) largest *= 2;
        const double bound = layout_bound(s, c.cluster, layout, cost, largest);
        c.layouts.push_back({layout, bound});
        c.bound_tokens_per_second = std::max(c.bound_tokens_per_second, bound);
        z.bounds.back() = bound;
      }
      if (c.layouts.empty()) {
        c.skipped = "model states plus one sequence's logits overflow the GPU in every layout";
        out.others.push_back(c);
        continue;
      }
      z.scenario = s;
      z.options = options.search;
      z.options.objective = Objective::throughput;
      z.options.suggest = false;  // only the chosen hardware, which fits, is reported in full
      z.options.estimate.cost = cost;
      z.options.estimate.timeline_cache = &timelines;  // one model and training spec: base's
      candidates.push_back(c);
      lazies.push_back(std::move(z));
    }
  }
  bool any_large_enough = !candidates.empty();
  for (const HardwareCandidate& c : out.others) any_large_enough |= c.skipped.rfind("model states need", 0) != 0;
  if (!any_large_enough)
    throw InputError("--max-gpus", "", base.model.name + " needs at least " + std::to_string(smallest_minimum) + " x " + smallest_gpu +
                                           " to hold its model states (GPU memory plus host RAM); --max-gpus is " + std::to_string(options.max_gpus));
  auto value_of = [&](const HardwareCandidate& c, double tokens_per_second) {
    return by_cost ? dollars_per_million(c.price_per_gpu_hour, c.cluster.world_size(), tokens_per_second) : -tokens_per_second;
  };
  auto value = [&](const HardwareCandidate& c) { return by_cost ? c.dollars_per_million_tokens : -c.tokens_per_second; };
  // Branch and bound. Every candidate enters one queue with its bound, best first (fewer GPUs first
  // among equal bounds: the cost bound barely depends on the count): the best of its layouts'
  // bounds. Popped, the layout that sets the bound is screened (search.h's screen_layout: no
  // allocator replay), which replaces the layout's step-time bound by the fastest candidate that
  // passed the screen: still optimistic (every plan that fits passes it), but it counts the
  // recompute, offload and batch limits that memory forces; the candidate goes back in with its
  // new bound. Once the bound is set by a screened layout, the candidate's search is finished (its
  // other layouts screened, the whole space merged in search_plan's order). A candidate whose bound
  // cannot beat the best plan found, on any hardware, is not searched further. Each searched
  // candidate gets the plan `zplan --gpus` would recommend on it (search_plan: its ranking rule,
  // which may prefer more free memory within the step-time model's error, and is never faster than
  // the fastest feasible plan), so the hardware chosen is judged by the plan that would be run.
  struct Job {
    double value;  // the bound in the objective's units, smaller is better
    int world;
    size_t candidate;
    bool operator>(const Job& o) const { return std::tie(value, world, candidate) > std::tie(o.value, o.world, o.candidate); }
  };
  std::priority_queue<Job, std::vector<Job>, std::greater<Job>> queue;
  for (size_t i = 0; i < candidates.size(); ++i)
    queue.push({value_of(candidates[i], candidates[i].bound_tokens_per_second), candidates[i].cluster.world_size(), i});
  std::vector<double> pruned_at(candidates.size(), 0);  // the bound that pruned each candidate
  double best = std::numeric_limits<double>::infinity();
  while (!queue.empty()) {
    const Job job = queue.top();
    queue.pop();
    HardwareCandidate& c = candidates[job.candidate];
    Lazy& z = lazies[job.candidate];
    if (options.prune && job.value >= best) {  // pruned: reported below as not searched
      pruned_at[job.candidate] = job.value;
      c.pruned_bound_tokens_per_second = c.screened_bound_tokens_per_second > 0 ? c.screened_bound_tokens_per_second : c.bound_tokens_per_second;
      continue;
    }
    Plan p;
    try {
      if (const size_t top = z.top(); z.bound_of(top) > 0 && !z.screened[top]) {
        z.screen(top);
        c.screened_bound_tokens_per_second = z.bound_of(z.top());
        // Nothing passed the screen in any layout: finish the (cheap) search for its closest miss.
        if (c.screened_bound_tokens_per_second > 0) {
          queue.push({value_of(c, c.screened_bound_tokens_per_second), job.world, job.candidate});
          continue;
        }
      }
      std::vector<ScreenedSpace> parts(z.layouts.size());
      for (size_t i = 0; i < z.layouts.size(); ++i) screen_layout(z.scenario, z.options, z.layouts[i], parts[i]);
      p = search_plan(z.scenario, z.options, merge_screened(std::move(parts)));
    } catch (const InputError&) {
      ++out.searched;
      c.searched = true;
      continue;
    }
    ++out.searched;
    c.searched = true;
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
                    by_cost ? pruned_at[i] : -pruned_at[i]);
      c.skipped = buf;
    }
    (c.plan.feasible ? out.ranked : out.others).push_back(c);
  }
  std::stable_sort(out.ranked.begin(), out.ranked.end(), [&](const HardwareCandidate& a, const HardwareCandidate& b) {
    if (value(a) != value(b)) return value(a) < value(b);
    return a.cluster.world_size() < b.cluster.world_size();
  });
  out.feasible = !out.ranked.empty();
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

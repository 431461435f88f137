// Plan search (see search.h).
#include "planner/format.h"
#include "planner/search/search.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <set>
#include <tuple>

#include "planner/config/validate.h"
#include "planner/input_error.h"
#include "planner/memory/loss_path.h"
#include "planner/memory/params.h"
#include "planner/config/runtime_support.h"
#include "planner/memory/precision_recipe.h"
#include "planner/framework/sharding_policy.h"
#include "planner/search/screen.h"
#include "planner/search/suggestions.h"
#include "planner/cost/step_time.h"

namespace zplan {
namespace {

std::vector<int> sp_choices(const Scenario& s) {
  if (s.pins.sp_degree) return {*s.pins.sp_degree};
  std::vector<int> out;
  const int world = s.cluster.world_size();
  // Ulysses groups tile the GPUs, so the degrees are the divisors of the world size; refused()
  // drops those the other rules refuse (heads, tokens, attention kernel).
  for (int d = 1; d <= world; ++d)
    if (world % d == 0) out.push_back(d);
  return out;
}

// Loss paths: the pinned one; else the plain one and, for zplan's runtime (the only stack with a
// chunked loss), chunks of about 2048 tokens (planner/memory/loss_path.h).
std::vector<int64_t> loss_chunk_choices(const Scenario& s, int sp) {
  if (s.pins.loss_chunks) return {*s.pins.loss_chunks};
  if (s.training.profile != Profile::zplan) return {0};
  // The runtime's chunked loss does not run under autocast (planner/config/runtime_support.h).
  const bool amp = s.pins.precision == Precision::amp_bf16 || s.pins.precision == Precision::amp_fp16;
  if (amp && !kRuntimeSupport.chunked_loss_under_autocast) return {0};
  const int64_t n = offered_loss_chunks(s.training.seq_len / std::max(1, sp));
  return n > 1 ? std::vector<int64_t>{0, n} : std::vector<int64_t>{0};
}

std::vector<Precision> precision_choices(const Scenario& s) {
  if (s.pins.precision) return {*s.pins.precision};
  return {s.cluster.gpu.supports_bf16 ? Precision::bf16 : Precision::fp16};
}

// A combination the strategy rules refuse (config/validate.h) is no candidate when the search chose
// the dimension at fault; a pinned one is left to estimate(), which refuses it naming the flag.
bool refused(const Strategy& st, const Scenario& s) {
  const StrategyCheck problem = check_strategy(st, s.model, s.cluster, s.training);
  if (!problem) return false;
  if (problem->dimension == StrategyDimension::offload) return true;  // contradicting pins fail earlier
  return problem->dimension == StrategyDimension::sp_degree && !s.pins.sp_degree;
}

// Strategies without their batch and checkpointing choices (precision, stage, offloads, SP).
std::vector<Strategy> layouts(const Scenario& s) {
  std::vector<Strategy> out;
  const std::vector<int> stages = s.pins.zero_stage ? std::vector<int>{*s.pins.zero_stage} : std::vector<int>{0, 1, 2, 3};
  for (Precision prec : precision_choices(s))
    for (int stage : stages)
      for (int oo = 0; oo < 2; ++oo) {
        if (s.pins.offload_optimizer && *s.pins.offload_optimizer != (oo == 1)) continue;
        // On one GPU there is nothing to partition: a ZeRO stage only makes sense with an offload
        // (ZeRO-Offload / ZeRO-Infinity), unless the user pinned it.
        if (s.cluster.world_size() == 1 && stage > 0 && !oo && !s.pins.zero_stage) continue;
        for (int op = 0; op < 2; ++op) {
          if (s.pins.offload_params && *s.pins.offload_params != (op == 1)) continue;
          for (int sp : sp_choices(s))
            for (int64_t loss_chunks : loss_chunk_choices(s, sp)) {
              Strategy st;
              st.precision = prec;
              st.zero_stage = stage;
              st.offload_optimizer = oo == 1;
              st.offload_params = op == 1;
              st.sp_degree = sp;
              st.loss_chunks = loss_chunks;
              if (!refused(st, s)) out.push_back(st);
            }
        }
      }
  return out;
}

std::vector<Strategy> base_strategies(const Scenario& s) {
  std::vector<Strategy> out;
  for (Strategy st : layouts(s))
    for (auto [mb, ga] : batch_choices(s, st.sp_degree)) {
      st.micro_batch = mb;
      st.grad_accumulation = ga;
      out.push_back(st);
    }
  return out;
}

// How far a candidate is from fitting: device total plus the free memory its band asks for, over
// the capacity (the allocator's own limit when a memory fraction is set).
uint64_t over_bytes(const Estimate& e) {
  const uint64_t need = e.memory.device_total_bytes() + e.required_free_bytes;
  const uint64_t reserved_need = e.memory.reserved_bytes + e.required_free_bytes;
  uint64_t over = need > e.gpu_limit_bytes ? need - e.gpu_limit_bytes : 0;
  if (reserved_need > e.allocator_limit_bytes) over = std::max(over, reserved_need - e.allocator_limit_bytes);
  if (!e.host_fits) over = std::max(over, e.memory.host.peak_bytes - e.memory.host.capacity_bytes);
  return over;
}

}  // namespace

std::vector<Strategy> search_layouts(const Scenario& s) { return layouts(s); }

uint64_t model_state_bytes_per_rank(int64_t params, const Strategy& st, int world) {
  const PrecisionRecipe r = precision_recipe(st.precision);
  const ModelStateHomes h = zero_state_homes(st.zero_stage, st.offload_optimizer, st.offload_params, std::max(1, world));
  const double psi = static_cast<double>(params);
  double bytes = !h.working_params.on_gpu() ? 0.0 : psi * r.param_bytes / static_cast<double>(h.working_params.divisor());
  // Offloading the optimizer also moves the (partitioned) gradients of stages 1-3 to the host.
  if (h.gradient_accumulator.on_gpu()) bytes += psi * r.grad_bytes / static_cast<double>(h.gradient_accumulator.divisor());
  if (h.optimizer_states.on_gpu())
    bytes += psi * (r.master_bytes + r.optimizer_bytes) / static_cast<double>(h.optimizer_states.divisor());
  return static_cast<uint64_t>(bytes);
}

bool better(const Estimate& a, const Estimate& b, Objective objective) {
  const double best = std::max(a.time.tokens_per_second, b.time.tokens_per_second);
  return ranks_before(a, b, objective == Objective::memory ? 0.0 : tie_floor(best));
}

std::vector<Strategy> enumerate_candidates(const Scenario& s) {
  std::vector<Strategy> out;
  const int64_t L = s.model.layers;
  std::vector<int64_t> ckpts;
  if (s.pins.checkpointed_layers) ckpts = {*s.pins.checkpointed_layers};
  else for (int64_t n = 0; n <= L; ++n) ckpts.push_back(n);
  for (Strategy st : base_strategies(s))
    for (int64_t n : ckpts)
      for (bool cpu : cpu_ckpt_choices(s)) {
        if (cpu && n == 0) continue;
        st.checkpointed_layers = n;
        st.cpu_checkpointing = cpu;
        out.push_back(st);
      }
  return out;
}

namespace {

using StrategyKey = std::tuple<int, bool, bool, int64_t, bool, int, int64_t, int64_t, int, int64_t>;
StrategyKey key_of(const Strategy& st) {
  return {st.zero_stage, st.offload_optimizer, st.offload_params, st.checkpointed_layers, st.cpu_checkpointing,
          st.sp_degree, st.micro_batch, st.grad_accumulation, static_cast<int>(st.precision), st.loss_chunks};
}

}  // namespace

namespace {

// One screen counted in the search's space; what it rejects is kept for the report.
Estimate screened(const Scenario& s, const SearchOptions& options, ScreenedSpace& space, const Strategy& st) {
  ++space.evaluated;
  Estimate e = screen_estimate(s, options, st);
  if (!e.feasible) space.infeasible.push_back(e);
  return e;
}

}  // namespace

void screen_layout(const Scenario& s, const SearchOptions& options, Strategy st, ScreenedSpace& space) {
  const int64_t L = s.model.layers;
  auto screened = [&](const Strategy& x) { return zplan::screened(s, options, space, x); };
  std::vector<ScreenedSpace::Family>& families = space.families;
  const size_t first_family = families.size();
  // 1. Families and the smallest checkpointed-layer count that passes the screen (allocated memory
  //    falls as the count grows, so the screen is monotonic in it and bisection finds the edge).
  auto add_family = [&](Strategy x) {
    bool any = false;
    for (bool cpu : cpu_ckpt_choices(s)) {
      x.cpu_checkpointing = cpu;
      if (s.pins.checkpointed_layers) {
        if (cpu && *s.pins.checkpointed_layers == 0) continue;
        x.checkpointed_layers = *s.pins.checkpointed_layers;
        if (screened(x).feasible) families.push_back({x, x.checkpointed_layers}), any = true;
        continue;
      }
      x.checkpointed_layers = L;
      if (!screened(x).feasible) continue;
      any = true;
      families.push_back({x, first_passing_count(x, cpu ? 1 : 0, L, [&](const Strategy& y) { return screened(y).feasible; })});
    }
    return any;
  };
  const int64_t psi = model_tables(s.model).counts.total;  // memoised: screened per layout
  const uint64_t limit = model_states_limit_bytes(s, options);
  // A layout whose model states alone exceed the device cannot fit at any batch or recompute.
  const uint64_t states = model_state_bytes_per_rank(psi, st, s.cluster.world_size());
  if (states > limit) {
    space.rejected_layouts.push_back({st, "model states alone need " + format_bytes(states) + " per GPU", states - limit});
    return;
  }
  // Micro-batches in increasing order: memory grows with it, so once nothing fits at one size
  // no larger size will.
  for (auto [mb, ga] : batch_choices(s, st.sp_degree)) {
    st.micro_batch = mb;
    st.grad_accumulation = ga;
    if (!add_family(st)) break;
  }
  // 2. Every screened candidate with its predicted throughput (the step-time model alone: cheap).
  for (size_t f = first_family; f < families.size(); ++f) {
    Strategy x = families[f].base;
    const int64_t last = s.pins.checkpointed_layers ? families[f].first : L;
    for (int64_t n = families[f].first; n <= last; ++n) {
      x.checkpointed_layers = n;
      space.candidates.push_back({x, estimate_step_time(s.model, s.cluster, s.training, x, options.estimate.cost).tokens_per_second, f});
    }
  }
}

ScreenedSpace merge_screened(std::vector<ScreenedSpace> parts) {
  ScreenedSpace space;
  for (ScreenedSpace& part : parts) {
    const size_t offset = space.families.size();
    space.families.insert(space.families.end(), part.families.begin(), part.families.end());
    for (ScreenedSpace::Candidate& c : part.candidates) space.candidates.push_back({c.strategy, c.tokens_per_second, c.family + offset});
    std::move(part.infeasible.begin(), part.infeasible.end(), std::back_inserter(space.infeasible));
    space.rejected_layouts.insert(space.rejected_layouts.end(), part.rejected_layouts.begin(), part.rejected_layouts.end());
    space.evaluated += part.evaluated;
  }
  std::stable_sort(space.candidates.begin(), space.candidates.end(), [](const ScreenedSpace::Candidate& a, const ScreenedSpace::Candidate& b) {
    return a.tokens_per_second > b.tokens_per_second;
  });
  return space;
}

ScreenedSpace screen_space(const Scenario& s, const SearchOptions& options) {
  std::vector<ScreenedSpace> parts;
  for (const Strategy& layout : layouts(s)) screen_layout(s, options, layout, parts.emplace_back());
  return merge_screened(std::move(parts));
}

double screened_throughput_bound(const ScreenedSpace& space) {
  double best = 0;
  for (const ScreenedSpace::Candidate& c : space.candidates) best = std::max(best, c.tokens_per_second);
  return best;
}

Plan search_plan(const Scenario& s, const SearchOptions& options) { return search_plan(s, options, screen_space(s, options)); }

Plan search_plan(const Scenario& s, const SearchOptions& options, ScreenedSpace space) {
  Plan plan;
  const int64_t L = s.model.layers;
  std::vector<Estimate>& infeasible = space.infeasible;
  const std::vector<ScreenedSpace::Candidate>& candidates = space.candidates;
  plan.rejected_layouts = std::move(space.rejected_layouts);
  auto screened = [&](const Strategy& st) { return zplan::screened(s, options, space, st); };
  std::map<StrategyKey, Estimate> full_cache;
  std::vector<Estimate> feasible;
  auto full = [&](const Strategy& st) -> const Estimate& {
    auto it = full_cache.find(key_of(st));
    if (it != full_cache.end()) return it->second;
    ++space.evaluated;
    Estimate e = estimate(s.model, s.cluster, s.training, st, options.estimate);
    (e.feasible ? feasible : infeasible).push_back(e);
    return full_cache.emplace(key_of(st), e).first->second;
  };

  // 3. The fastest feasible candidate: estimate in full in throughput order until one fits.
  double fastest = -1;
  for (const ScreenedSpace::Candidate& c : candidates)
    if (const Estimate& e = full(c.strategy); e.feasible) {
      fastest = c.tokens_per_second;
      plan.fastest_strategy = e.strategy;
      plan.fastest_tokens_per_second = e.time.tokens_per_second;
      break;
    }

  // 4. Of the candidates in the tie with it (selection.h), the one with most memory free: branch and
  //    bound on the screen's free memory, an upper bound of the full estimate's, which grows with the
  //    checkpointed-layer count inside a family.
  if (fastest >= 0) {
    const double floor = options.objective == Objective::memory ? 0.0 : tie_floor(fastest);
    std::map<size_t, std::vector<Strategy>> tie_by_family;  // counts in the tie, ascending
    for (const ScreenedSpace::Candidate& c : candidates)
      if (c.tokens_per_second >= floor) tie_by_family[c.family].push_back(c.strategy);
    struct Bound {
      uint64_t free_bytes;
      size_t family;
    };
    std::vector<Bound> bounds;
    std::map<size_t, Estimate> top_screen;
    for (auto& [f, members] : tie_by_family) {
      std::sort(members.begin(), members.end(),
                [](const Strategy& a, const Strategy& b) { return a.checkpointed_layers < b.checkpointed_layers; });
      top_screen[f] = screened(members.back());
      bounds.push_back({top_screen[f].free_bytes, f});
    }
    std::stable_sort(bounds.begin(), bounds.end(), [](const Bound& a, const Bound& b) { return a.free_bytes > b.free_bytes; });
    uint64_t best_free = 0;
    for (const Estimate& e : feasible)
      if (e.time.tokens_per_second >= floor) best_free = std::max(best_free, e.free_bytes);
    for (const Bound& b : bounds) {
      if (b.free_bytes < best_free) break;
      const std::vector<Strategy>& members = tie_by_family[b.family];
      for (size_t i = members.size(); i-- > 0;) {
        const uint64_t bound = i + 1 == members.size() ? top_screen[b.family].free_bytes : screened(members[i]).free_bytes;
        if (bound < best_free) break;
        const Estimate& e = full(members[i]);
        if (e.feasible) best_free = std::max(best_free, e.free_bytes);
      }
    }
  }
  // 5. Runners-up to show: a few more of the fastest candidates, in full (the choice is made).
  size_t extra = 0;
  for (const ScreenedSpace::Candidate& c : candidates) {
    if (feasible.size() > options.alternatives || extra >= options.alternatives) break;
    if (full_cache.count(key_of(c.strategy))) continue;
    ++extra;
    full(c.strategy);
  }
  plan.evaluated = space.evaluated;
  rank_feasible(feasible, options.objective);
  std::sort(infeasible.begin(), infeasible.end(), [](const Estimate& a, const Estimate& b) { return over_bytes(a) < over_bytes(b); });
  for (size_t i = 0; i < infeasible.size() && i < 8; ++i)
    plan.rejected.push_back({infeasible[i].strategy, infeasible[i].verdict, over_bytes(infeasible[i])});
  if (!feasible.empty()) {
    plan.feasible = true;
    plan.chosen = feasible.front();
    for (size_t i = 1; i < feasible.size() && plan.alternatives.size() < options.alternatives; ++i)
      plan.alternatives.push_back(feasible[i]);
    return plan;
  }
  if (infeasible.empty() && !plan.rejected_layouts.empty()) {
    // Every layout was pruned on model states alone: estimate the least-over one at its smallest
    // batch with full recompute, so the report shows real numbers.
    auto least = std::min_element(plan.rejected_layouts.begin(), plan.rejected_layouts.end(),
                                  [](const Rejection& a, const Rejection& b) { return a.over_bytes < b.over_bytes; });
    Strategy st = least->strategy;
    const auto batches = batch_choices(s, st.sp_degree);
    if (!batches.empty()) {
      st.micro_batch = batches.front().first;
      st.grad_accumulation = batches.front().second;
    }
    st.checkpointed_layers = s.pins.checkpointed_layers.value_or(L);
    st.cpu_checkpointing = s.pins.cpu_checkpointing.value_or(false);
    infeasible.push_back(estimate(s.model, s.cluster, s.training, st, options.estimate));
    ++plan.evaluated;
  }
  if (infeasible.empty()) throw InputError("--gpus", "", "no strategy is valid for this scenario (check --sp, --micro-batch and --global-batch)");
  plan.chosen = estimate(s.model, s.cluster, s.training, infeasible.front().strategy, options.estimate);
  if (options.suggest)
    for (const Suggestion& sug : suggest_fixes(s, options)) plan.suggestions.push_back(describe(sug, s));
  if (options.suggest && plan.suggestions.empty())
    plan.suggestions.push_back("nothing zplan can change fits: no offload, sub-group size, precision, 4x the GPUs, "
                               "more host RAM or a sequence down to 128 tokens makes a plan fit");
  return plan;
}

}  // namespace zplan

// Plan search (see search.h).
#include "planner/search/search.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "planner/input_error.h"
#include "planner/memory/params.h"
#include "planner/memory/precision_recipe.h"
#include "planner/memory/zero.h"
#include "planner/search/suggestions.h"

namespace zplan {
namespace {

std::vector<int> sp_choices(const Scenario& s) {
  if (s.pins.sp_degree) return {*s.pins.sp_degree};
  std::vector<int> out;
  const int world = s.cluster.world_size();
  for (int d = 1; d <= world; ++d) {
    if (world % d || s.model.heads % d || s.training.seq_len % d) continue;
    if (d > 1 && s.training.attention == Attention::eager) continue;
    out.push_back(d);
  }
  return out;
}

// (micro_batch, grad_accumulation) pairs: with a global batch, mb * ga * DP must equal it.
std::vector<std::pair<int64_t, int64_t>> batch_choices(const Scenario& s, int sp) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const int64_t dp = s.cluster.world_size() / sp;
  std::vector<int64_t> mbs;
  if (s.pins.micro_batch) mbs = {*s.pins.micro_batch};
  else for (int64_t mb = 1; mb <= 64; mb *= 2) mbs.push_back(mb);
  for (int64_t mb : mbs) {
    if (s.training.global_batch > 0) {
      if (s.training.global_batch % (mb * dp) != 0) continue;
      const int64_t ga = s.training.global_batch / (mb * dp);
      if (s.pins.grad_accumulation && *s.pins.grad_accumulation != ga) continue;
      out.push_back({mb, ga});
    } else {
      out.push_back({mb, s.pins.grad_accumulation.value_or(1)});
    }
  }
  return out;
}

std::vector<Precision> precision_choices(const Scenario& s) {
  if (s.pins.precision) return {*s.pins.precision};
  return {s.cluster.gpu.supports_bf16 ? Precision::bf16 : Precision::fp16};
}

// Strategies without their batch and checkpointing choices (precision, stage, offloads, SP).
std::vector<Strategy> layouts(const Scenario& s) {
  std::vector<Strategy> out;
  const std::vector<int> stages = s.pins.zero_stage ? std::vector<int>{*s.pins.zero_stage} : std::vector<int>{0, 1, 2, 3};
  for (Precision prec : precision_choices(s))
    for (int stage : stages)
      for (int oo = 0; oo < 2; ++oo) {
        if (s.pins.offload_optimizer && *s.pins.offload_optimizer != (oo == 1)) continue;
        if (oo && stage == 0) continue;
        // On one GPU there is nothing to partition: a ZeRO stage only makes sense with an offload
        // (ZeRO-Offload / ZeRO-Infinity), unless the user pinned it.
        if (s.cluster.world_size() == 1 && stage > 0 && !oo && !s.pins.zero_stage) continue;
        for (int op = 0; op < 2; ++op) {
          if (s.pins.offload_params && *s.pins.offload_params != (op == 1)) continue;
          if (op && stage != 3) continue;
          for (int sp : sp_choices(s)) {
            Strategy st;
            st.precision = prec;
            st.zero_stage = stage;
            st.offload_optimizer = oo == 1;
            st.offload_params = op == 1;
            st.sp_degree = sp;
            out.push_back(st);
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

std::vector<bool> cpu_ckpt_choices(const Scenario& s) {
  if (s.pins.cpu_checkpointing) return {*s.pins.cpu_checkpointing};
  return {false, true};
}

uint64_t over_bytes(const Estimate& e) {
  const uint64_t need = e.memory.peak_allocated_bytes + e.memory.cuda_context_bytes;
  uint64_t over = need > e.gpu_limit_bytes ? need - e.gpu_limit_bytes : 0;
  if (!e.host_fits) over = std::max(over, e.memory.host.peak_bytes - e.memory.host.capacity_bytes);
  return over;
}

}  // namespace

std::vector<Strategy> search_layouts(const Scenario& s) { return layouts(s); }

uint64_t model_state_bytes_per_rank(int64_t params, const Strategy& st, int world) {
  const PrecisionRecipe r = precision_recipe(st.precision);
  const ZeroDivisors d = zero_divisors(st.zero_stage, std::max(1, world));
  const double psi = static_cast<double>(params);
  double bytes = st.offload_params ? 0.0 : psi * r.param_bytes / static_cast<double>(d.weights);
  // Offloading the optimizer also moves the (partitioned) gradients of stages 2/3 to the host.
  if (!(st.offload_optimizer && st.zero_stage >= 2)) bytes += psi * r.grad_bytes / static_cast<double>(d.grads);
  if (!st.offload_optimizer) bytes += psi * (r.master_bytes + r.optimizer_bytes) / static_cast<double>(d.optimizer);
  return static_cast<uint64_t>(bytes);
}

bool better(const Estimate& a, const Estimate& b, Objective objective) {
  const uint64_t used_a = a.memory.reserved_bytes + a.memory.cuda_context_bytes;
  const uint64_t used_b = b.memory.reserved_bytes + b.memory.cuda_context_bytes;
  if (objective == Objective::memory) {
    if (used_a != used_b) return used_a < used_b;
    return a.time.tokens_per_second > b.time.tokens_per_second;
  }
  // Throughput first; within 0.5% treat as equal and prefer the simpler strategy (fewer moving
  // parts to get wrong: no offload, no CPU checkpoints, less recompute, lower stage, less SP),
  // then the one with more memory left.
  const double ta = a.time.tokens_per_second, tb = b.time.tokens_per_second;
  if (std::abs(ta - tb) > 0.005 * std::max(ta, tb)) return ta > tb;
  const auto simplicity = [](const Strategy& s) {
    return std::make_tuple(static_cast<int>(s.offload_optimizer) + static_cast<int>(s.offload_params),
                           static_cast<int>(s.cpu_checkpointing), s.checkpointed_layers, s.zero_stage, s.sp_degree);
  };
  if (simplicity(a.strategy) != simplicity(b.strategy)) return simplicity(a.strategy) < simplicity(b.strategy);
  return used_a < used_b;
}

std::vector<Strategy> enumerate_candidates(const Scenario& s) {
  std::vector<Strategy> out;
  const int64_t L = s.model.layers;
  std::vector<int64_t> ckpts;
  if (s.pins.checkpointed_layers) ckpts = {*s.pins.checkpointed_layers};
  else {
    std::set<int64_t> set = {0, L / 4, L / 2, 3 * L / 4, L};
    ckpts.assign(set.begin(), set.end());
  }
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

Plan search_plan(const Scenario& s, const SearchOptions& options) {
  Plan plan;
  std::vector<Estimate> feasible;
  std::vector<Estimate> infeasible;
  const int64_t L = s.model.layers;
  EstimateOptions screen = options.estimate;
  screen.fast = true;
  auto eval = [&](const Strategy& st) {
    ++plan.evaluated;
    Estimate e = estimate(s.model, s.cluster, s.training, st, screen);
    (e.feasible ? feasible : infeasible).push_back(e);
    return e;
  };
  // Evaluates one batch shape with every checkpointing choice; returns whether any fits.
  auto explore = [&](Strategy st) {
    bool any = false;
    for (bool cpu : cpu_ckpt_choices(s)) {
      if (s.pins.checkpointed_layers) {
        if (cpu && *s.pins.checkpointed_layers == 0) continue;
        st.checkpointed_layers = *s.pins.checkpointed_layers;
        st.cpu_checkpointing = cpu;
        any |= eval(st).feasible;
        continue;
      }
      // Recompute only as much as needed: no checkpointing if it fits, else the smallest layer
      // count that fits (memory falls monotonically with the count), and all layers.
      st.cpu_checkpointing = cpu;
      if (!cpu) {
        st.checkpointed_layers = 0;
        if (eval(st).feasible) { any = true; continue; }
      }
      st.checkpointed_layers = L;
      if (!eval(st).feasible) continue;
      any = true;
      int64_t lo = 0, hi = L;  // hi fits; lo does not (0 with CPU checkpointing means nothing)
      while (hi - lo > 1) {
        const int64_t mid = (lo + hi) / 2;
        st.checkpointed_layers = mid;
        Estimate e = estimate(s.model, s.cluster, s.training, st, screen);
        ++plan.evaluated;
        if (e.feasible) hi = mid; else lo = mid;
      }
      if (hi < L) {
        st.checkpointed_layers = hi;
        eval(st);
      }
    }
    return any;
  };
  const int64_t psi = count_parameters(s.model).total;
  const uint64_t limit = static_cast<uint64_t>(static_cast<double>(s.cluster.gpu.memory_bytes) * (1.0 - options.estimate.margin));
  for (Strategy st : layouts(s)) {
    // A layout whose model states alone exceed the device cannot fit at any batch or recompute.
    const uint64_t states = model_state_bytes_per_rank(psi, st, s.cluster.world_size());
    if (states > limit) {
      plan.rejected_layouts.push_back({st, "model states alone need " + format_bytes(states) + " per GPU", states - limit});
      continue;
    }
    // Micro-batches in increasing order: memory grows with it, so once nothing fits at one size
    // no larger size will.
    for (auto [mb, ga] : batch_choices(s, st.sp_degree)) {
      st.micro_batch = mb;
      st.grad_accumulation = ga;
      if (!explore(st)) break;
    }
  }
  const Objective obj = options.objective;
  auto rank = [obj](std::vector<Estimate>& v) {
    std::sort(v.begin(), v.end(), [obj](const Estimate& a, const Estimate& b) { return better(a, b, obj); });
  };
  rank(feasible);
  // Re-estimate the best screened candidates in full (caching-allocator replay, names); one that
  // no longer fits (fragmentation) moves to the infeasible list.
  std::vector<Estimate> confirmed;
  for (size_t i = 0; i < feasible.size() && confirmed.size() < options.alternatives + 1; ++i) {
    Estimate e = estimate(s.model, s.cluster, s.training, feasible[i].strategy, options.estimate);
    (e.feasible ? confirmed : infeasible).push_back(e);
  }
  rank(confirmed);
  feasible = confirmed;
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

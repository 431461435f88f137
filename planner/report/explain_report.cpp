// Decision-tree report (see explain_report.h). The branches mirror the order in which an engineer
// tries remedies: recompute, move checkpoints to the host, chunk the loss path (zplan runtime), split
// the sequence, offload the optimizer; each is estimated, and the chosen plan closes the tree with
// the reason it won.
#include "planner/format.h"
#include "planner/report/explain_report.h"

#include "planner/search/selection.h"

#include <cstdio>
#include <sstream>

#include "planner/config/validate.h"
#include "planner/input_error.h"
#include "planner/memory/loss_path.h"
#include "planner/io/breakdown_json.h"
#include "planner/report/plan_report.h"

namespace zplan {
namespace {

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.0f%%", 100.0 * x);
  return buf;
}

std::string reading(const Estimate& e, const Estimate* baseline) {
  std::ostringstream o;
  if (e.feasible) {
    o << "fits: " << format_bytes(e.memory.device_total_bytes()) << " of " << format_bytes(e.gpu_limit_bytes) << ", "
      << format_bytes(e.free_bytes) << " free (" << uncertainty_text(e) << ")";
  } else if (e.gpu_fits && !e.band_covered) {
    o << "at risk: " << format_bytes(e.free_bytes) << " free, less than " << uncertainty_text(e);
  } else if (!e.gpu_fits) {
    // The verdict's first clause says by how much, or why the allocator fails below the limit.
    o << e.verdict.substr(0, e.verdict.find("; peak in"));
  } else {
    o << "host RAM OOM: " << format_bytes(e.memory.host.peak_bytes) << " of " << format_bytes(e.memory.host.capacity_bytes);
  }
  o << "; peak in " << to_string(e.memory.peak_phase) << " = weights " << format_bytes(e.memory.weights_bytes)
    << " + grads " << format_bytes(e.memory.grads_bytes) << " + optimizer "
    << format_bytes(e.memory.optimizer_states_bytes + e.memory.master_weights_bytes) << " + activations "
    << format_bytes(e.memory.activations_bytes) << " + logits/loss " << format_bytes(e.memory.logits_bytes)
    << "; largest tensor " << e.largest_at_peak;
  char buf[96];
  std::snprintf(buf, sizeof buf, "; %.0f tokens/s", e.time.tokens_per_second);
  o << buf;
  if (baseline && baseline->time.tokens_per_second > 0)
    o << " (" << percent(e.time.tokens_per_second / baseline->time.tokens_per_second - 1.0) << " vs baseline)";
  return o.str();
}

}  // namespace

std::vector<ExplainStep> explain_steps(const Scenario& s, const Plan& plan, const EstimateOptions& options) {
  std::vector<ExplainStep> steps;
  const int64_t L = s.model.layers;
  Strategy base;
  base.precision = plan.chosen.strategy.precision;
  base.zero_stage = s.pins.zero_stage.value_or(s.cluster.world_size() > 1 ? 3 : 0);
  // The branches start from what a user tries first: one sequence per GPU (or the pinned batch).
  base.micro_batch = s.pins.micro_batch.value_or(1);
  base.grad_accumulation = s.pins.grad_accumulation.value_or(1);
  base.loss_chunks = s.pins.loss_chunks.value_or(0);
  auto add = [&](const std::string& q, const Strategy& st) {
    if (check_strategy(st, s.model, s.cluster, s.training)) return;  // a combination the rules refuse
    try {
      Estimate e = estimate(s.model, s.cluster, s.training, st, options);
      steps.push_back({q, st, e, reading(e, steps.empty() ? nullptr : &steps.front().estimate)});
    } catch (const InputError&) {
      // A branch that is not a valid configuration here is simply not shown.
    }
  };
  add("Baseline: ZeRO-" + std::to_string(base.zero_stage) + ", no recompute, no sequence parallelism", base);
  Strategy full = base;
  full.checkpointed_layers = L;
  add("+ activation checkpointing of all " + std::to_string(L) + " layers", full);
  Strategy cpu = full;
  cpu.cpu_checkpointing = true;
  add("+ CPU checkpointing (checkpoints in pinned host memory)", cpu);
  for (int sp = 2; sp <= s.cluster.world_size(); sp *= 2) {
    Strategy u = full;
    u.sp_degree = sp;
    add("Ulysses sequence parallelism " + std::to_string(sp) + " (with full checkpointing)", u);
  }
  // The loss path (zplan's runtime only, planner/memory/loss_path.h): lm_head + cross-entropy in
  // chunks, alone and with the recompute above.
  const int64_t chunks = s.training.profile == Profile::zplan && !s.pins.loss_chunks
                             ? offered_loss_chunks(s.training.seq_len) : 0;
  if (chunks > 1) {
    const std::string what = "+ chunked loss path (" + std::to_string(chunks) + " chunks, no [tokens, vocab] logits)";
    Strategy lc = base;
    lc.loss_chunks = chunks;
    add(what, lc);
    Strategy lcc = cpu;
    lcc.loss_chunks = chunks;
    add(what + " with CPU checkpointing of all layers", lcc);
  }
  // Not where optimizer offload is pinned off (--offload-optimizer none, or --profile zplan: the
  // runtime has none, planner/config/runtime_support.h).
  if ((base.zero_stage >= 1 || s.cluster.world_size() > 1) && s.pins.offload_optimizer.value_or(true)) {
    Strategy off = full;
    off.zero_stage = std::max(base.zero_stage, 2);
    off.offload_optimizer = true;
    add("+ optimizer offload to CPU (ZeRO-" + std::to_string(off.zero_stage) + ")", off);
  }
  return steps;
}

std::string explain_to_text(const Scenario& s, const Plan& plan, const EstimateOptions& options, bool md) {
  std::ostringstream o;
  o << (md ? "## " : "") << "Decision tree: " << s.model.name << ", " << s.training.seq_len << " tokens per sequence on "
    << s.cluster.world_size() << "x " << s.cluster.gpu.name << "\n\n";
  const std::vector<ExplainStep> steps = explain_steps(s, plan, options);
  for (size_t i = 0; i < steps.size(); ++i) {
    const ExplainStep& st = steps[i];
    o << (md ? "- **" : " ├─ ") << st.question << (md ? "** (" : " [") << strategy_summary(st.strategy, s.model.layers)
      << (md ? ")\n  - " : "]\n │    → ") << st.reading << "\n";
  }
  o << (md ? "\n**Chosen:** " : " └─ chosen: ") << strategy_summary(plan.chosen.strategy, s.model.layers) << "\n";
  if (plan.feasible) {
    // The rule of planner/search/selection.h, with the numbers it was applied to.
    // The search's own fastest feasible plan (the alternatives shown are ranked by the tie rule, so
    // the fastest need not be among them); a plan made without a search has only itself.
    const bool searched = plan.fastest_tokens_per_second > 0;
    const double fastest = searched ? plan.fastest_tokens_per_second : plan.chosen.time.tokens_per_second;
    const Strategy& fastest_strategy = searched ? plan.fastest_strategy : plan.chosen.strategy;
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.0f%%", 100.0 * kPlanRankingError);
    o << (md ? "\n" : "      ") << "because, of " << plan.evaluated << " evaluated candidates, ";
    if (fastest_strategy == plan.chosen.strategy)
      o << "it has the highest predicted throughput (" << static_cast<long long>(fastest) << " tokens/s)";
    else
      o << "the fastest feasible plan is " << strategy_summary(fastest_strategy, s.model.layers) << " at "
        << static_cast<long long>(fastest) << " tokens/s, and the step-time model's error between plans (" << pct
        << ", measured) cannot tell plans within that of it apart; among those this one leaves the most memory free ("
        << static_cast<long long>(plan.chosen.time.tokens_per_second) << " tokens/s)";
    o << ". It leaves " << format_bytes(plan.chosen.free_bytes) << " free at the peak against "
      << uncertainty_text(plan.chosen) << ".\n";
  } else {
    o << (md ? "\n" : "      ") << "nothing fits: " << plan.chosen.verdict << "\n";
    for (const std::string& sug : plan.suggestions) o << (md ? "- " : "      - ") << sug << "\n";
  }
  return o.str();
}

nlohmann::json explain_to_json(const Scenario& s, const Plan& plan, const EstimateOptions& options) {
  nlohmann::json arr = nlohmann::json::array();
  for (const ExplainStep& st : explain_steps(s, plan, options))
    arr.push_back({{"question", st.question},
                   {"strategy", strategy_to_json(st.strategy)},
                   {"feasible", st.estimate.feasible},
                   {"peak_bytes", st.estimate.memory.peak_allocated_bytes},
                   {"device_total_bytes", st.estimate.memory.device_total_bytes()},
                   {"tokens_per_second", st.estimate.time.tokens_per_second},
                   {"reading", st.reading}});
  return {{"steps", arr}, {"chosen", strategy_to_json(plan.chosen.strategy)}, {"feasible", plan.feasible}};
}

}  // namespace zplan

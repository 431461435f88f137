// `zplan --gpus auto|h100,h200,... [--max-gpus N] [--price h100=2.49] [--objective cost|time]
// [--tokens 2e9]`: search GPU type and count as well as the strategy (planner/search/hardware_search.h),
// print the ranking, the chosen plan, and with --explain why the chosen hardware beats the next.
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "commands.h"
#include "planner/format.h"
#include "planner/input_error.h"
#include "planner/report/explain_report.h"
#include "planner/report/plan_report.h"
#include "planner/search/hardware_search.h"

namespace zplan {
namespace {

std::string money(double dollars) {
  char buf[40];
  std::snprintf(buf, sizeof buf, dollars >= 100 ? "$%.0f" : "$%.2f", dollars);
  return buf;
}

std::string why_first_beats_second(const HardwarePlan& hp, bool by_cost) {
  const HardwareCandidate& a = hp.ranked.front();
  std::ostringstream o;
  char buf[400];
  if (hp.ranked.size() > 1) {
    const HardwareCandidate& b = hp.ranked[1];
    std::snprintf(buf, sizeof buf,
                  "%s beats %s (next best searched): %s vs %s per million tokens, %.0f vs %.0f tokens/s (x%.2f) at %s vs %s "
                  "per GPU-hour for %d vs %d GPUs (x%.2f per hour).\n",
                  a.cluster.name.c_str(), b.cluster.name.c_str(), money(a.dollars_per_million_tokens).c_str(),
                  money(b.dollars_per_million_tokens).c_str(), a.tokens_per_second, b.tokens_per_second,
                  a.tokens_per_second / b.tokens_per_second, money(a.price_per_gpu_hour).c_str(), money(b.price_per_gpu_hour).c_str(),
                  a.cluster.world_size(), b.cluster.world_size(),
                  a.price_per_gpu_hour * a.cluster.world_size() / (b.price_per_gpu_hour * b.cluster.world_size()));
    o << buf;
  } else {
    // The runner-up was never searched: its bound, which no plan on it can beat, already loses.
    const HardwareCandidate* next = nullptr;
    for (const HardwareCandidate& c : hp.others)
      if (c.pruned_bound_tokens_per_second > 0 &&
          (!next || (by_cost ? c.price_per_gpu_hour * c.cluster.world_size() / c.pruned_bound_tokens_per_second <
                                   next->price_per_gpu_hour * next->cluster.world_size() / next->pruned_bound_tokens_per_second
                             : c.pruned_bound_tokens_per_second > next->pruned_bound_tokens_per_second)))
        next = &c;
    if (next) {
      const double bound_dollars = next->price_per_gpu_hour * next->cluster.world_size() / 3600.0 / next->pruned_bound_tokens_per_second * 1e6;
      std::snprintf(buf, sizeof buf,
                    "%s beats %s (next best bound, not searched): $%.3f vs at best $%.3f per million tokens, %.0f vs at most %.0f tokens/s.\n",
                    a.cluster.name.c_str(), next->cluster.name.c_str(), a.dollars_per_million_tokens, bound_dollars,
                    a.tokens_per_second, next->pruned_bound_tokens_per_second);
      o << buf;
    }
  }
  o << "Ranked by " << (by_cost ? "dollars per million tokens" : "tokens per second") << "; the others:\n";
  for (const HardwareCandidate& c : hp.others) {
    o << "  " << c.cluster.name << ": ";
    if (!c.skipped.empty()) o << c.skipped;
    else if (!c.plan.feasible) o << "nothing fits (" << c.plan.chosen.verdict << ")";
    o << "\n";
  }
  return o.str();
}

std::string ranking_text(const HardwarePlan& hp, const Scenario& s, bool by_cost) {
  std::ostringstream o;
  o << "Hardware search for " << s.model.name << ", " << s.training.seq_len << " tokens per sequence, ranked by "
    << (by_cost ? "cost (dollars per million tokens)" : "time (tokens per second)")
    << ". Prices are assumptions (hardware/gpus/*.yaml; --price GPU=DOLLARS overrides).\n";
  o << "  rank  hardware            $/GPU-h   tokens/s   $/M tokens  step time      plan\n";
  int rank = 0;
  for (const HardwareCandidate& c : hp.ranked) {
    char buf[400];
    std::snprintf(buf, sizeof buf, "  %-4d  %-18s  %7.2f  %9.0f  %11.3f  %-13s  %s\n", ++rank, c.cluster.name.c_str(), c.price_per_gpu_hour,
                  c.tokens_per_second, c.dollars_per_million_tokens, c.calibrated ? "calibrated" : "uncalibrated",
                  strategy_summary(c.plan.chosen.strategy, s.model.layers).c_str());
    o << buf;
  }
  size_t pruned = 0, memory = 0;
  for (const HardwareCandidate& c : hp.others)
    if (c.skipped.rfind("pruned", 0) == 0) ++pruned;
    else if (!c.searched) ++memory;
  o << "  " << hp.searched << " (GPU, count) candidates searched (" << hp.layouts_searched << " layouts), " << pruned
    << " pruned by their throughput bound, " << memory << " too small for the model states.\n";
  return o.str();
}

nlohmann::json candidate_json(const HardwareCandidate& c, int64_t layers) {
  nlohmann::json j = {{"hardware", c.cluster.name}, {"gpu", c.cluster.gpu.name}, {"gpus", c.cluster.world_size()},
                      {"price_per_gpu_hour", c.price_per_gpu_hour}, {"calibrated", c.calibrated}, {"searched", c.searched},
                      {"bound_tokens_per_second", c.bound_tokens_per_second}};
  if (c.plan.feasible) {
    j["tokens_per_second"] = c.tokens_per_second;
    j["dollars_per_million_tokens"] = c.dollars_per_million_tokens;
    j["strategy"] = strategy_summary(c.plan.chosen.strategy, layers);
  }
  if (!c.skipped.empty()) j["skipped"] = c.skipped;
  return j;
}

}  // namespace

std::string training_time_and_cost_text(double tokens, double tokens_per_second, int gpus, double price) {
  const double hours = tokens / tokens_per_second / 3600.0;
  char buf[300];
  if (price > 0)
    std::snprintf(buf, sizeof buf, "Training %.3g tokens: %.1f hours on %d GPUs, %s at %s per GPU-hour (an assumed price).\n", tokens, hours,
                  gpus, money(hours * gpus * price).c_str(), money(price).c_str());
  else
    std::snprintf(buf, sizeof buf, "Training %.3g tokens: %.1f hours on %d GPUs (no price for this GPU: --price GPU=DOLLARS).\n", tokens, hours, gpus);
  return buf;
}

nlohmann::json training_run_json(double tokens, double tokens_per_second, int gpus, double price) {
  const double hours = tokens / tokens_per_second / 3600.0;
  nlohmann::json j = {{"tokens", tokens}, {"hours", hours}, {"gpus", gpus}};
  if (price > 0) j["dollars"] = hours * gpus * price, j["price_per_gpu_hour"] = price;
  return j;
}

int run_hardware_search(const PlanCommand& cmd, const Scenario& base) {
  const ScenarioOptions& o = cmd.scenario;
  if (cmd.run) throw InputError("--run", "", "trains on this machine's GPUs; give them as NxGPU, not --gpus " + o.gpus);
  if (!o.emit_deepspeed.empty()) throw InputError("--emit-deepspeed", "", "needs one cluster: give --gpus NxGPU");
  HardwareSearchOptions hs;
  hs.search.estimate = estimate_options(o, base);
  // Unset: the cheapest (the mission's "cheapest feasible configuration"); time/throughput: the fastest.
  hs.objective = o.objective == "time" || o.objective == "throughput" ? HardwareObjective::time : HardwareObjective::cost;
  hs.max_gpus = max_gpus_or_default(o);
  // Benchmarks only (tools/bench_planner.sh): every candidate searched in full, no branch and bound.
  // The chosen hardware and plan are the same; the ranking lists every feasible candidate.
  hs.prune = std::getenv("ZPLAN_EXHAUSTIVE_HARDWARE_SEARCH") == nullptr;
  const std::optional<Calibration> calibration = user_calibration(o);
  hs.calibration = calibration ? &*calibration : nullptr;
  const std::vector<GpuSpec> gpus = hardware_list(o);
  const bool by_cost = hs.objective == HardwareObjective::cost;
  if (by_cost)
    for (const GpuSpec& g : gpus)
      if (!(g.price_per_gpu_hour > 0)) throw InputError("--price", "", g.name + " has no price: give --price " + g.name + "=DOLLARS_PER_GPU_HOUR");
  const HardwarePlan hp = search_hardware(base, gpus, hs);
  const std::optional<double> tokens = tokens_to_train(o);
  Scenario chosen_scenario = base;
  if (hp.feasible) chosen_scenario.cluster = hp.ranked.front().cluster;
  std::string text;
  if (o.format == "json") {
    nlohmann::json j = hp.feasible ? plan_to_json(hp.ranked.front().plan, chosen_scenario) : nlohmann::json{{"feasible", false}};
    nlohmann::json h = {{"objective", by_cost ? "cost" : "time"}, {"searched", hp.searched}, {"max_gpus", hs.max_gpus}};
    for (const HardwareCandidate& c : hp.ranked) h["ranked"].push_back(candidate_json(c, base.model.layers));
    for (const HardwareCandidate& c : hp.others) h["others"].push_back(candidate_json(c, base.model.layers));
    if (hp.feasible) h["chosen"] = hp.ranked.front().cluster.name;
    else h["needed"] = hp.needed;
    if (o.explain && hp.feasible) h["why"] = why_first_beats_second(hp, by_cost);
    j["hardware"] = h;
    if (tokens && hp.feasible) {
      const HardwareCandidate& c = hp.ranked.front();
      j["training_run"] = training_run_json(*tokens, c.tokens_per_second, c.cluster.world_size(), c.price_per_gpu_hour);
    }
    text = j.dump(2);
  } else {
    const bool md = o.format == "markdown";
    text = ranking_text(hp, base, by_cost);
    if (!hp.feasible) text += hp.needed + "\n";
    else {
      const HardwareCandidate& c = hp.ranked.front();
      text += "\nChosen: " + c.cluster.name + "\n" + plan_to_text(c.plan, chosen_scenario, md);
      if (tokens) text += training_time_and_cost_text(*tokens, c.tokens_per_second, c.cluster.world_size(), c.price_per_gpu_hour);
      if (o.explain) text += "\n" + why_first_beats_second(hp, by_cost);
    }
  }
  emit_report(text, o.out);
  return hp.feasible ? 0 : 3;
}

}  // namespace zplan

// Remedies that are planned before they are offered (see suggestions.h).
#include "planner/format.h"
#include "planner/search/suggestions.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <optional>

#include "planner/input_error.h"

namespace zplan {
namespace {

// Ranks of what a remedy costs the user; the text is printed with it.
const char* const kCosts[] = {"nothing but a config value", "speed", "numerics (no fp32 master copy)",
                              "hardware", "the job (shorter sequences)"};

std::optional<Estimate> best_plan(const Scenario& s, const SearchOptions& options) {
  SearchOptions inner = options;
  inner.suggest = false;  // a remedy's own failure suggests nothing further
  try {
    const Plan p = search_plan(s, inner);
    if (p.feasible) return p.chosen;
  } catch (const InputError&) {
    // Not a valid scenario (e.g. SP no longer divides the GPUs): not a remedy.
  }
  return std::nullopt;
}

std::string gib_ceil(uint64_t bytes) {
  const uint64_t gib = uint64_t{1} << 30;
  return std::to_string((bytes + gib - 1) / gib) + "GiB";
}

}  // namespace

std::vector<Suggestion> suggest_fixes(const Scenario& s, const SearchOptions& options) {
  std::vector<std::pair<int, Suggestion>> found;  // (cost rank, suggestion)
  auto attempt = [&](int cost, const std::string& flags, const std::function<void(Scenario&)>& change) {
    Scenario t = s;
    change(t);
    if (auto e = best_plan(t, options)) found.push_back({cost, {flags, kCosts[cost], *e}});
    return found.size();
  };
  const StrategyPins& p = s.pins;
  const bool deepspeed = s.training.framework == Framework::deepspeed;
  // DeepSpeed's stage-3 sub-groups: the optimizer steps (and keeps fp32 gradient buffers for) one
  // sub-group at a time, so a smaller sub_group_size lowers the optimizer-step peak.
  if (deepspeed && p.zero_stage.value_or(3) == 3 && s.training.sub_group_size > 100'000'000)
    attempt(0, "\"sub_group_size\": 1e8 in zero_optimization of the DeepSpeed config", [](Scenario& t) {
      t.training.sub_group_size = 100'000'000;
      t.pins.zero_stage = 3;
    });
  if (!p.offload_optimizer.value_or(false)) {
    const bool stage_ok = p.zero_stage.value_or(2) >= 1;
    attempt(1, stage_ok ? "--offload-optimizer cpu" : "--zero 2 --offload-optimizer cpu", [&](Scenario& t) {
      t.pins.offload_optimizer = true;
      t.pins.offload_params = false;
      if (!stage_ok) t.pins.zero_stage = 2;
    });
  }
  if (!p.offload_params.value_or(false))
    attempt(1, "--zero 3 --offload-optimizer cpu --offload-params cpu", [](Scenario& t) {
      t.pins.zero_stage = 3;
      t.pins.offload_optimizer = true;
      t.pins.offload_params = true;
    });
  // bf16 weights and Adam states without an fp32 master copy: a plain (or FSDP2/DDP) loop only;
  // DeepSpeed always keeps the fp32 copy.
  if (!deepspeed && s.cluster.gpu.supports_bf16 && p.precision.value_or(Precision::bf16) != Precision::bf16_pure)
    attempt(2, "--precision bf16-pure", [](Scenario& t) { t.pins.precision = Precision::bf16_pure; });
  // More GPUs of the same kind: in the node up to 8, else more nodes; host RAM per node stays.
  for (int factor : {2, 4}) {
    const bool in_node = s.cluster.gpus_per_node * factor <= 8;
    const int gpus = s.cluster.gpus_per_node * (in_node ? factor : 1), nodes = s.cluster.nodes * (in_node ? 1 : factor);
    const std::string flags = "--gpus " + std::to_string(gpus) + "x" + s.cluster.gpu.name +
                              (nodes > 1 ? " --nodes " + std::to_string(nodes) : std::string()) + " --host-ram " +
                              gib_ceil(s.cluster.host_ram_bytes) + " (host RAM per node kept at today's)";
    const size_t before = found.size();
    if (attempt(3, flags, [&](Scenario& t) {
          t.cluster.gpus_per_node = gpus;
          t.cluster.nodes = nodes;
          t.cluster.name = std::to_string(gpus) + "x" + t.cluster.gpu.name;
        }) > before)
      break;
  }
  // More host RAM, when the host is what stops the plan: the RAM the best plan then needs.
  {
    Scenario t = s;
    t.cluster.host_ram_bytes = uint64_t{1} << 50;
    if (auto e = best_plan(t, options); e && e->memory.host.peak_bytes > s.cluster.host_ram_bytes) {
      t.cluster.host_ram_bytes = e->memory.host.peak_bytes + (uint64_t{1} << 30);
      const std::string ram = gib_ceil(t.cluster.host_ram_bytes);
      attempt(3, "--host-ram " + ram, [&](Scenario& u) { u.cluster.host_ram_bytes = t.cluster.host_ram_bytes; });
    }
  }
  // The longest sequence (halving) that fits.
  for (int64_t seq = s.training.seq_len / 2; seq >= 128; seq /= 2) {
    const size_t before = found.size();
    if (attempt(4, "--seq " + std::to_string(seq), [&](Scenario& t) { t.training.seq_len = seq; }) > before) break;
  }
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return a.second.plan.time.tokens_per_second > b.second.plan.time.tokens_per_second;
  });
  std::vector<Suggestion> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::string describe(const Suggestion& sug, const Scenario& s) {
  const Estimate& e = sug.plan;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.0f tokens/s", e.time.tokens_per_second);
  std::string host = "host RAM " + format_bytes(e.memory.host.peak_bytes) + " of " +
                     format_bytes(e.memory.host.capacity_bytes) + " per node";
  if (e.memory.host.capacity_bytes == s.cluster.host_ram_bytes && !s.cluster.host_ram_origin.empty())
    host += " (" + s.cluster.host_ram_origin + ")";
  return sug.flags + ": fits (GPU " + format_bytes(e.memory.reserved_bytes + e.memory.cuda_context_bytes) + " of " +
         format_bytes(e.gpu_limit_bytes) + ", " + format_bytes(e.free_bytes) + " free, " + host + "; " + buf + "); costs " + sug.cost;
}

}  // namespace zplan

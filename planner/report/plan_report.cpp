// Plan reports (see plan_report.h).
#include "planner/format.h"
#include "planner/report/plan_report.h"

#include <cstdio>
#include <sstream>

#include "planner/io/breakdown_json.h"
#include "planner/report/estimate_report.h"

namespace zplan {

nlohmann::json plan_to_json(const Plan& p, const Scenario& s) {
  nlohmann::json j = estimate_to_json(p.chosen, s);
  j["feasible"] = p.feasible;
  j["evaluated"] = p.evaluated;
  nlohmann::json alts = nlohmann::json::array();
  for (const Estimate& e : p.alternatives)
    alts.push_back({{"strategy", strategy_to_json(e.strategy)},
                    {"peak_bytes", e.memory.peak_allocated_bytes},
                    {"reserved_bytes", e.memory.reserved_bytes},
                    {"tokens_per_second", e.time.tokens_per_second},
                    {"step_seconds", e.time.step_seconds}});
  j["alternatives"] = alts;
  nlohmann::json rej = nlohmann::json::array();
  for (const Rejection& r : p.rejected)
    rej.push_back({{"strategy", strategy_to_json(r.strategy)}, {"reason", r.reason}, {"over_bytes", r.over_bytes}});
  j["rejected"] = rej;
  j["suggestions"] = p.suggestions;
  return j;
}

std::string plan_to_text(const Plan& p, const Scenario& s, bool md) {
  std::ostringstream o;
  o << (md ? "## " : "") << (p.feasible ? "Chosen plan" : "No plan fits; closest miss") << " for "
    << stack_summary(s.training) << " (" << p.evaluated << " candidates evaluated)\n\n";
  o << estimate_to_text(p.chosen, s, md);
  if (!p.alternatives.empty()) {
    o << "\n" << (md ? "### " : "") << "Next best feasible plans\n";
    if (md) o << "\n| strategy | device total | peak allocated | tokens/s |\n|---|---:|---:|---:|\n";
    else {
      char head[256];
      std::snprintf(head, sizeof head, "  %-58s %11s %11s %15s\n", "strategy", "device total", "peak alloc", "throughput");
      o << head;
    }
    for (const Estimate& e : p.alternatives) {
      char buf[256];
      std::snprintf(buf, sizeof buf, md ? "| %s | %s | %s | %.0f |\n" : "  %-58s %11s %11s %9.0f tok/s\n",
                    strategy_summary(e.strategy, s.model.layers).c_str(),
                    format_bytes(e.memory.device_total_bytes()).c_str(),
                    format_bytes(e.memory.peak_allocated_bytes).c_str(), e.time.tokens_per_second);
      o << buf;
    }
  }
  if (!p.suggestions.empty()) {
    o << "\n" << (md ? "### " : "") << "What would make it fit\n";
    for (const std::string& sug : p.suggestions) o << (md ? "- " : "  - ") << sug << "\n";
  }
  return o.str();
}

}  // namespace zplan

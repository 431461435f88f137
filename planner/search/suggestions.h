// What would make a scenario fit when nothing does: each remedy is planned before it is printed
// (GPU and host RAM both), and only the ones that fit are offered, cheapest for the user first.
#pragma once
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/search/search.h"

namespace zplan {

struct Suggestion {
  std::string flags;     // what to add or change on the command line, e.g. "--zero 3 --offload-optimizer cpu"
  std::string cost;      // what it costs the user: "nothing", "speed", "numerics", "hardware", "the job"
  Estimate plan;         // the best plan found with it (feasible)
};

// Remedies in the order of what they cost the user (nothing < speed < numerics < hardware < the job),
// by throughput within one cost; at most one per kind. `options` as for the search that failed.
std::vector<Suggestion> suggest_fixes(const Scenario& s, const SearchOptions& options);

// One line per suggestion: flags, cost, the plan's GPU and host RAM use and throughput, and the
// host RAM assumed.
std::string describe(const Suggestion& sug, const Scenario& s);

}  // namespace zplan

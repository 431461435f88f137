// Reports of a searched Plan: the chosen plan's breakdown, the runners-up as a table (DeepSpeed's
// estimator habit of printing every alternative), and what would make it fit when nothing does.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "planner/config/scenario.h"
#include "planner/search/search.h"

namespace zplan {

nlohmann::json plan_to_json(const Plan& p, const Scenario& s);
std::string plan_to_text(const Plan& p, const Scenario& s, bool markdown);

}  // namespace zplan

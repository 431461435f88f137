// Reports of one Estimate: the JSON object of the CLI contract (DESIGN.md) and a readable text /
// Markdown table (component, bytes, share of capacity, verdict with headroom, phases).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "planner/config/scenario.h"
#include "planner/estimate.h"

namespace zplan {

nlohmann::json estimate_to_json(const Estimate& e, const Scenario& s);
std::string estimate_to_text(const Estimate& e, const Scenario& s, bool markdown);

}  // namespace zplan

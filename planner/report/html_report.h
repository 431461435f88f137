// --format html: a self-contained page with a stacked bar chart of the memory breakdown of the
// chosen plan and its alternatives against capacity, and the decision tree.
#pragma once
#include <string>

#include "planner/config/scenario.h"
#include "planner/search/search.h"

namespace zplan {

std::string plan_to_html(const Scenario& s, const Plan& plan, const EstimateOptions& options);

}  // namespace zplan

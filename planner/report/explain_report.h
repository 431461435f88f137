// --explain: the decision tree behind a plan, in the spirit of the user stories (want 16K? ->
// baseline OOM by N GiB because of X -> CPU checkpointing: fits, costs Y% -> Ulysses 8: fits,
// costs Z% -> chosen because ...). Every branch is a real estimate of a real strategy.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/config/scenario.h"
#include "planner/search/search.h"

namespace zplan {

struct ExplainStep {
  std::string question;   // "Baseline", "+ checkpoint all layers", ...
  Strategy strategy;
  Estimate estimate;
  std::string reading;    // one line: fits / OOM by how much, dominated by what, cost vs baseline
};

std::vector<ExplainStep> explain_steps(const Scenario& s, const Plan& plan, const EstimateOptions& options);
std::string explain_to_text(const Scenario& s, const Plan& plan, const EstimateOptions& options, bool markdown);
nlohmann::json explain_to_json(const Scenario& s, const Plan& plan, const EstimateOptions& options);

}  // namespace zplan

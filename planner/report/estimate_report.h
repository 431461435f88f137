// Reports of one Estimate: the JSON object of the CLI contract (docs/cli.md "JSON") and a readable text /
// Markdown table (component, bytes, share of capacity, verdict with headroom, phases).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "planner/config/scenario.h"
#include "planner/estimate.h"

namespace zplan {

nlohmann::json estimate_to_json(const Estimate& e, const Scenario& s);
// The stack a prediction is for, as the first line of every report says it:
// "Hugging Face transformers + DeepSpeed (--profile hf)", "zplan's runtime (--profile zplan)".
std::string stack_summary(const TrainingSpec& t);
// "3x rtx3080-20gb, 1 node, host RAM 12.00 GiB per node (cluster 3x3080-20g ...)": the machine and
// where its inherited defaults came from.
std::string cluster_summary(const ClusterSpec& c);
std::string estimate_to_text(const Estimate& e, const Scenario& s, bool markdown);

}  // namespace zplan

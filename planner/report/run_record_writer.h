// Writing run records (format in docs/run-records.md; reading them is io/run_record.h): the
// scenario, the strategy, the estimate made at the time and the measurement, in the encodings the
// reports use, so `zplan validate` can predict the run again and compare.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "planner/config/scenario.h"
#include "planner/estimate.h"
#include "planner/io/run_record.h"  // Measurement

namespace zplan {

// Scenario as written into a record: model name (+ layer override), or the HF config dict.
nlohmann::json scenario_to_json(const Scenario& s);
nlohmann::json make_run_record(const Scenario& s, const Estimate& e, const Measurement& m,
                               const std::string& gpu_name, const nlohmann::json& versions,
                               const std::string& command);

}  // namespace zplan

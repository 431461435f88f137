// Run records: one JSON object per measured run (what `zplan --run` writes and what each file in
// tests/regression/measured/ holds; format in docs/run-records.md). It carries enough to predict
// the run again (scenario + strategy), the estimate made at the time, and the measurement in the
// same MemoryBreakdown encoding as predictions.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "planner/config/scenario.h"
#include "planner/estimate.h"

namespace zplan {

struct Measurement {
  MemoryBreakdown memory;        // busiest rank
  double step_seconds = 0;
  double tokens_per_second = 0;
  bool oom = false;
  std::string failed_phase;      // when oom
};

// Scenario as written into a record: model name (+ layer override), or the HF config dict.
nlohmann::json scenario_to_json(const Scenario& s);
// Reads one record file: InputError naming the file when it cannot be read or is not JSON.
nlohmann::json read_run_record(const std::string& path);
// Rebuilds the Scenario of a record (scenario + strategy), throwing InputError naming `where`.
Scenario scenario_from_record(const nlohmann::json& record, const std::string& where, Strategy* strategy);

nlohmann::json make_run_record(const Scenario& s, const Estimate& e, const Measurement& m,
                               const std::string& gpu_name, const nlohmann::json& versions,
                               const std::string& command);
Measurement measurement_from_record(const nlohmann::json& record, const std::string& where);

}  // namespace zplan

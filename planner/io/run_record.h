// Reading run records: one JSON object per measured run (what `zplan --run` writes and what each
// file in tests/regression/measured/ holds; format in docs/run-records.md). A record carries enough
// to predict the run again (scenario + strategy) and the measurement in the same MemoryBreakdown
// encoding as predictions (io/breakdown_json.h). Writing one is report/run_record_writer.h's job.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "planner/config/scenario.h"
#include "planner/memory/memory_breakdown.h"

namespace zplan {

struct Measurement {
  MemoryBreakdown memory;        // busiest rank
  double step_seconds = 0;          // the steady step (see measurement_from_record)
  double tokens_per_second = 0;
  double recorded_step_seconds = 0; // the record's own step time (steps after the first)
  bool oom = false;
  std::string failed_phase;      // when oom
};

// Reads one record file: InputError naming the file when it cannot be read or is not JSON.
nlohmann::json read_run_record(const std::string& path);
// Rebuilds the Scenario of a record (scenario + strategy), throwing InputError naming `where`.
// Loads the built-in model (or the HF config dict) and the cluster the record names.
Scenario scenario_from_record(const nlohmann::json& record, const std::string& where, Strategy* strategy);
// `first_steady_step` (planner/cost/deepspeed_step.h deepspeed_first_steady_step): when a framework
// pays a one-time cost after step 1, the step time is the median of the record's per-step times
// from that step on (measurement.memory.gpu.steps), when it has them; else the record's own.
Measurement measurement_from_record(const nlohmann::json& record, const std::string& where, int first_steady_step = 2);

}  // namespace zplan

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

// A step time more than half above the record's own fastest timed step is not a steady state: a
// GPU step is not faster than its work, so the slower steps carry a one-time cost. Such a record's
// step time is neither fitted (zplan calibrate) nor scored (zplan validate), and both say so. In
// the records of 2026-12 the excess is below 0.2 or above 0.9; 0.5 sits in that gap
// (docs/cost-model.md, "Unsteady records").
inline constexpr double kMaxStepExcessOverFastest = 0.5;

struct Measurement {
  MemoryBreakdown memory;        // busiest rank
  double step_seconds = 0;          // the steady step (see measurement_from_record)
  double tokens_per_second = 0;
  double recorded_step_seconds = 0; // the record's own step time (steps after the first)
  // step_seconds / the fastest timed step - 1, from the record's per-step times (0 when it has
  // fewer than two). Records time few steps (the Hugging Face harnesses: the median of steps 2 and
  // 3, i.e. their mean), so one step still warming up (a collective's first use, the allocator
  // growing its pool) moves the step time by half of what it is slower.
  double step_excess_over_fastest = 0;
  // Whether the step time is a steady state (kMaxStepExcessOverFastest).
  bool step_time_is_steady() const;
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

// Re-predicting measured runs: reads run records (tests/regression/measured/**.json), predicts
// each again with the current planner, and compares peak allocated / reserved. Also computes what
// two public baselines predict for the same run — DeepSpeed's model-state estimator formulas and
// a plain 16-bytes-per-parameter + Korthikanti et al. activation calculation — so reports show
// the difference. Used by `zplan validate` and the `regression` ctest.
#pragma once
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/validation/bands.h"
#include "planner/cost/calibration.h"

namespace zplan {

struct ValidationRow {
  std::string file;
  std::string model;
  std::string group;                      // the record's folder (hf, hf_holdout, zplan, ...)
  int64_t layers = 0;
  Profile profile = Profile::zplan;
  Strategy strategy;
  int64_t seq = 0;
  std::string attention;
  uint64_t measured_peak_bytes = 0;
  uint64_t predicted_peak_bytes = 0;
  uint64_t measured_reserved_bytes = 0;
  uint64_t predicted_reserved_bytes = 0;
  uint64_t deepspeed_formula_bytes = 0;   // DeepSpeed estimate_zero{2,3}_model_states_mem_needs
  uint64_t naive_bytes = 0;               // 16 B/param + Korthikanti sbh(34 + 5as/h) per layer
  bool measured_oom = false;              // the run itself ran out of memory
  bool predicted_oom = false;             // the planner says it does not fit
  double peak_error = 0;                  // (predicted - measured) / measured (0 for OOM runs)
  double reserved_error = 0;
  // Device memory outside the caching allocator (CUDA context + NCCL): measured (total - free) -
  // reserved, and predicted (planner/memory/overheads.h). 0 measured = the record lacks it.
  uint64_t measured_outside_bytes = 0;
  uint64_t predicted_outside_bytes = 0;
  double outside_error = 0;
  // Host RAM of one process: the record's resident set at the end of a step against the predicted
  // steady host memory per process (HostMemory::steady_bytes / processes per node). 0 measured =
  // the record lacks it (only the DeepSpeed harness reads it).
  uint64_t measured_host_bytes = 0;
  uint64_t predicted_host_bytes = 0;
  double host_error = 0;
  PathKey path;                           // profile x framework x offload x SP > 1 x world size
  bool within_tolerance = false;
  // Step time (planner/cost/step_time.h) against the record's measured seconds per optimizer step;
  // 0 measured = the record carries no step time (an OOM run, or timing was not recorded).
  std::string gpu;                        // hardware profile name the record ran on
  double measured_step_seconds = 0;
  double predicted_step_seconds = 0;
  double step_error = 0;                  // (predicted - measured) / measured
  // The measured step time is not a steady state (Measurement::step_time_is_steady): printed,
  // marked, and left out of the error summaries and the ratchet.
  bool unsteady_step_time = false;
  bool has_step_time() const { return measured_step_seconds > 0 && !measured_oom && !unsteady_step_time; }
};

// Throws InputError naming the file and field for malformed records.
// Step-time constants per record: `calibration` when it is for the record's GPU, else the built-in
// calibration of that GPU, else the defaults; `uncalibrated` forces the defaults.
struct StepTimeSource {
  const Calibration* calibration = nullptr;
  bool uncalibrated = false;
};
ValidationRow validate_record_file(const std::string& path, const StepTimeSource& source = {});
// Every *.json under `dir` (recursively), sorted by path. Malformed files throw.
std::vector<ValidationRow> validate_directory(const std::string& dir, const StepTimeSource& source = {});
std::vector<std::string> record_files(const std::string& dir);

struct ProfileSummary {
  Profile profile;
  std::string group;          // "" = every folder
  size_t runs = 0;
  size_t oom_runs = 0;        // runs that ran out of memory (checked for the OOM verdict only)
  double mean_abs_error = 0, max_abs_error = 0;
  double mean_abs_reserved_error = 0;
  double deepspeed_mean_abs_error = 0, naive_mean_abs_error = 0;
  size_t failures = 0;
  size_t step_runs = 0;       // runs with a measured step time
  double mean_abs_step_error = 0, max_abs_step_error = 0;
};
// One summary per profile, then one per (profile, folder).
std::vector<ProfileSummary> summarize(const std::vector<ValidationRow>& rows);

// The host-RAM table of the runs that measured it (text or Markdown), empty when none did.
std::string host_memory_report(const std::vector<ValidationRow>& rows, bool markdown);

// Each run's reserved error with its path (OOM runs have none), for measure_bands().
std::vector<PathError> reserved_errors(const std::vector<ValidationRow>& rows);

std::string validation_table(const std::vector<ValidationRow>& rows, bool markdown);
// A predicted-against-measured scatter plot (log axes in GiB), self-contained SVG.
std::string validation_svg(const std::vector<ValidationRow>& rows);

}  // namespace zplan

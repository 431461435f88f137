// `zplan calibrate`'s work: turn measured run records into calibration samples (step-time terms +
// measured seconds), fit the constants per profile on the records outside the held-out set, and
// measure the error before and after on the fitted records, on the held-out records, and by
// leave-one-model-out (each model predicted by a fit on the other models' records).
#pragma once
#include <string>
#include <vector>

#include "planner/cost/calibration.h"
#include "planner/validation/repeat_floor.h"

namespace zplan {

// Records with a measured step time, from every *.json under `dir` (OOM runs and records without
// timing are skipped). Records whose step time is not a steady state (Measurement::
// step_time_is_steady) are skipped too and, when `unsteady` is given, put there.
// Throws InputError for malformed records.
std::vector<CalibrationSample> calibration_samples(const std::string& dir, std::vector<CalibrationSample>* unsteady = nullptr);

struct ErrorStats {
  size_t runs = 0;
  double mean_abs = 0, max_abs = 0;  // |predicted - measured| / measured
};
ErrorStats step_errors(const std::vector<CalibrationSample>& samples, const StepTermVector& weights);

// One record scored by a fit that did not see it: which record, and how far off.
struct HeldOutResidual {
  std::string file, model;
  double predicted_seconds = 0, measured_seconds = 0;
  bool host_bound = false;  // the predicted step's host dispatch exceeds its GPU work (host_device_overlap.h)
  double error() const { return (predicted_seconds - measured_seconds) / measured_seconds; }  // signed
};

struct ProfileFitReport {
  Profile profile;
  size_t fit_runs = 0, held_out_runs = 0;
  ErrorStats fit_before, fit_after, held_out_before, held_out_after, leave_one_model_out;
  // Every residual of a run its fit did not see (leave-one-model-out and the held-out runs), by what
  // bounds the predicted step.
  ErrorStats held_out_device_bound, held_out_host_bound;
  size_t models = 0;
  // Every scored record, for `zplan calibrate --worst N`: the held-out folders' records under the
  // fit, and each fit record under the fit that left its model out.
  std::vector<HeldOutResidual> held_out_residuals, leave_one_model_out_residuals;
  // Configurations measured more than once among all the GPU's records of the profile (fitted and
  // held out), by what bounds their predicted step at the fitted weights.
  RepeatFloors repeats;
};

struct CalibrationReport {
  Calibration calibration;
  std::vector<ProfileFitReport> profiles;
};

// Does `file` contain one of the comma-separated texts of `holdout` (empty texts match nothing)?
bool held_out(const std::string& file, const std::string& holdout);

// Fits every profile with at least `min_runs` fit records on GPU `gpu` (canonical name). Records
// whose path contains one of the comma-separated texts of `holdout` are not fitted, only scored.
CalibrationReport calibrate_records(const std::vector<CalibrationSample>& samples, const std::string& gpu,
                                    const std::string& holdout, size_t min_runs = 8);

std::string calibration_report_text(const CalibrationReport& report, bool markdown);

// The `worst` largest |error| of each profile's held-out and leave-one-model-out records, one line
// each (signed error, predicted and measured seconds, model, record), largest first.
std::string worst_residuals_text(const CalibrationReport& report, size_t worst);

}  // namespace zplan

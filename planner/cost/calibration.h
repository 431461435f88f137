// Calibration of the step-time model: the free constants of CostOptions fitted per GPU and profile
// (whose code ran: zplan's runtime or Hugging Face) from measured step times. `zplan calibrate`
// fits (here) and writes the YAML (planner/io/calibration_loader.h); the planner reads it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "planner/config/cluster_spec.h"
#include "planner/config/training_spec.h"
#include "planner/cost/host_device_overlap.h"
#include "planner/cost/step_time.h"

namespace zplan {

struct ProfileCalibration {
  CostOptions constants;
  int runs = 0;                      // measured runs the fit used
  std::vector<std::string> fitted;   // terms fitted; the others kept their defaults (no run exercised them)
};

struct Calibration {
  std::string gpu;                   // hardware profile name (canonical, e.g. "h100-80gb")
  std::string source;                // file it was read from, or "built-in hardware/calibration/..."
  std::string note;                  // how it was made (the calibrate command)
  std::map<Profile, ProfileCalibration> profiles;
};

// One measured step: its terms (at datasheet rates) and the seconds it took.
struct CalibrationSample {
  StepTermVector terms{};
  double measured_seconds = 0;
  std::string file, group, model, gpu;
  Profile profile = Profile::zplan;
};

struct FitResult {
  StepTermVector weights{};
  std::vector<std::string> fitted;   // term names fitted (others: defaults, or pinned at a bound)
};

// A sample's predicted step at these weights: the weighted terms overlapped as
// planner/cost/host_device_overlap.h says (the same as estimate_step_time's step_seconds), with
// its host and device sides apart; predicted_step_seconds is its seconds.
CombinedStep predicted_step(const StepTermVector& terms, const StepTermVector& weights, const StepMechanisms& k = {});
double predicted_step_seconds(const StepTermVector& terms, const StepTermVector& weights, const StepMechanisms& k = {});

// The least each weight can be (a weight is 1 / efficiency or an overhead): an efficiency cannot
// exceed 1, an overhead cannot be negative, and where the GPU profile holds a measured attention
// kernel rate (GpuSpec::attention_kernel_tflops) or GEMM rate (matmul_kernel_tflops) the attention
// or matmul term cannot run faster than it.
StepTermVector physical_lower_bounds(const GpuSpec& gpu);

// Least squares of relative error (Eigen), weights bounded below by physics (efficiencies <= 1,
// overheads >= 0) with an active set, and a weak prior (`prior_weight` per term, relative to the
// default) that keeps terms the records barely exercise near their documented defaults. Terms no
// sample exercises keep their defaults. The prediction is the overlapped step of
// host_device_overlap.h; the fit iterates linear solves to its least-squares point.
constexpr double kCalibrationPriorWeight = 0.05;
FitResult fit_term_weights(const std::vector<CalibrationSample>& samples, const CostOptions& defaults,
                           double prior_weight = kCalibrationPriorWeight, const StepTermVector& lower_bounds = physical_lower_bounds(GpuSpec{}));

}  // namespace zplan

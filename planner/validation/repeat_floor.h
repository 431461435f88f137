// Runs the step-time model cannot tell apart: records whose terms are identical (the same GPU,
// profile, model, lengths and strategy) get one prediction, so how far apart their measured step
// times lie is a floor under the maximum error any prediction can reach on them. `zplan calibrate`
// reports it per regime beside the held-out error (docs/cost-model.md, "Call30").
#pragma once
#include <string>
#include <vector>

#include "planner/cost/calibration.h"

namespace zplan {

struct RepeatFloor {
  int groups = 0;      // configurations measured more than once
  double floor = 0;    // the largest (slowest - fastest) / (slowest + fastest) among them
  std::string widest;  // the slowest record of the group with that floor
};

struct RepeatFloors {
  RepeatFloor device_bound, host_bound;  // by what bounds the group's predicted step at the weights
};

// Groups `samples` by identical terms (samples of one GPU and profile); each group of two or more
// counts in the regime of its predicted step at `weights`.
RepeatFloors repeat_floors(const std::vector<CalibrationSample>& samples, const StepTermVector& weights);

}  // namespace zplan

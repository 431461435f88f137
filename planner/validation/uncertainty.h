// The uncertainty a verdict carries (issue 16): the measured band of reserved-memory error of the
// configuration's path (planner/validation/bands.h), or — for a path never measured — the widest band
// of its nearest measured relatives: every path of the same profile and framework, and for several
// GPUs every several-GPU path of the profile; else the same profile; else any path. The borrowed band
// is at least as wide as every band it was chosen from, and the verdict says which path it came from.
#pragma once
#include <string>
#include <vector>

#include "planner/validation/bands.h"

namespace zplan {

struct Uncertainty {
  double fraction = 0;        // of predicted reserved bytes
  size_t measured_runs = 0;   // runs of this very path; 0 = never measured
  std::string path;           // this configuration's path
  std::string borrowed_from;  // the measured path whose band is used, when this one is not measured
  size_t borrowed_runs = 0;
};

// From the bands compiled into the planner (calibration/reserved_bands.json).
Uncertainty uncertainty_for(const PathKey& key);
Uncertainty uncertainty_for(const PathKey& key, const std::vector<PathBand>& bands);

const std::vector<PathBand>& builtin_bands();

}  // namespace zplan

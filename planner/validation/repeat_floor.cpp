// Repeated configurations among calibration samples (see repeat_floor.h).
#include "planner/validation/repeat_floor.h"

#include <algorithm>
#include <map>

namespace zplan {

RepeatFloors repeat_floors(const std::vector<CalibrationSample>& samples, const StepTermVector& weights) {
  // Terms computed from the same inputs are the same to the last bit, so exact equality groups them.
  std::map<StepTermVector, std::vector<const CalibrationSample*>> groups;
  for (const CalibrationSample& s : samples) groups[s.terms].push_back(&s);
  RepeatFloors out;
  for (const auto& [terms, runs] : groups) {
    if (runs.size() < 2) continue;
    const auto [fastest, slowest] = std::minmax_element(
        runs.begin(), runs.end(), [](const CalibrationSample* a, const CalibrationSample* b) { return a->measured_seconds < b->measured_seconds; });
    const double floor = ((*slowest)->measured_seconds - (*fastest)->measured_seconds) /
                         ((*slowest)->measured_seconds + (*fastest)->measured_seconds);
    RepeatFloor& r = predicted_step(terms, weights).host_bound() ? out.host_bound : out.device_bound;
    ++r.groups;
    if (floor >= r.floor) {
      r.floor = floor;
      r.widest = (*slowest)->file;
    }
  }
  return out;
}

}  // namespace zplan

// Band lookup with borrowing (see uncertainty.h).
#include "planner/validation/uncertainty.h"

#include <functional>

#include "planner/io/builtin_data.h"

namespace zplan {

const std::vector<PathBand>& builtin_bands() {
  static const std::vector<PathBand> bands = [] {
    const std::string name = "calibration/reserved_bands.json";
    for (const BuiltinFile& f : builtin_files())
      if (f.path == name) return bands_from_json(nlohmann::json::parse(f.content), name);
    return std::vector<PathBand>{};
  }();
  return bands;
}

Uncertainty uncertainty_for(const PathKey& key, const std::vector<PathBand>& bands) {
  Uncertainty u;
  u.path = key.str();
  for (const PathBand& b : bands)
    if (b.key == key) {
      u.fraction = b.p95_abs_error;
      u.measured_runs = b.runs;
      return u;
    }
  // Never measured: the widest band among the nearest relatives — every measured path of the same
  // profile and framework (a path measured once, with a narrow band, must not vouch alone for its
  // unmeasured neighbours) and, for several GPUs, every measured several-GPU path of the profile
  // (what collectives and sharding add is not seen on one GPU); else the profile; else any path.
  const bool several = key.world_size > 1 || key.sequence_parallel;
  const std::vector<std::function<bool(const PathKey&)>> families = {
      [&](const PathKey& k) {
        return k.profile == key.profile && (k.framework == key.framework || (several && k.world_size > 1));
      },
      [&](const PathKey& k) { return k.profile == key.profile; },
      [&](const PathKey&) { return true; }};
  for (const auto& in_family : families) {
    const PathBand* widest = nullptr;
    for (const PathBand& b : bands)
      if (in_family(b.key) && (!widest || b.p95_abs_error > widest->p95_abs_error)) widest = &b;
    if (widest) {
      u.fraction = widest->p95_abs_error;
      u.borrowed_from = widest->key.str();
      u.borrowed_runs = widest->runs;
      return u;
    }
  }
  return u;  // no band at all (an empty calibration file): no uncertainty can be stated
}

Uncertainty uncertainty_for(const PathKey& key) { return uncertainty_for(key, builtin_bands()); }

}  // namespace zplan

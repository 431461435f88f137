// A path never measured borrows a band (planner/validation/uncertainty.h): never a narrow band that
// one sibling run happens to have, and for several GPUs never less than what several-GPU paths show.
#include <doctest/doctest.h>

#include "planner/validation/uncertainty.h"

using namespace zplan;

namespace {

PathKey key(Framework f, bool offload, int64_t world) {
  PathKey k;
  k.profile = Profile::hf;
  k.framework = f;
  k.offload = offload;
  k.world_size = world;
  return k;
}

PathBand band(const PathKey& k, size_t runs, double p95) {
  PathBand b;
  b.key = k;
  b.runs = runs;
  b.p95_abs_error = b.max_abs_error = p95;
  return b;
}

}  // namespace

TEST_CASE("a measured path carries its own band") {
  const std::vector<PathBand> bands = {band(key(Framework::deepspeed, true, 1), 1, 0.011)};
  const Uncertainty u = uncertainty_for(key(Framework::deepspeed, true, 1), bands);
  CHECK(u.fraction == doctest::Approx(0.011));
  CHECK(u.measured_runs == 1);
  CHECK(u.borrowed_from.empty());
}

TEST_CASE("an unmeasured path borrows the widest band of its framework, and of several-GPU paths") {
  std::vector<PathBand> bands = {band(key(Framework::deepspeed, true, 1), 1, 0.011),
                                 band(key(Framework::deepspeed, false, 1), 7, 0.062)};
  // One GPU more than measured: the narrow offload sibling does not vouch alone.
  Uncertainty u = uncertainty_for(key(Framework::deepspeed, true, 8), bands);
  CHECK(u.fraction == doctest::Approx(0.062));
  CHECK(u.borrowed_from == key(Framework::deepspeed, false, 1).str());
  // A wider several-GPU band of another framework counts for a several-GPU path...
  bands.push_back(band(key(Framework::fsdp2, false, 2), 18, 0.151));
  u = uncertainty_for(key(Framework::deepspeed, true, 8), bands);
  CHECK(u.fraction == doctest::Approx(0.151));
  CHECK(u.borrowed_runs == 18);
  // ...but not for a one-GPU path of the framework.
  PathKey one_gpu_sp = key(Framework::deepspeed, false, 1);
  one_gpu_sp.offload = true;
  one_gpu_sp.world_size = 1;
  bands.erase(bands.begin());  // the offload path is no longer measured
  u = uncertainty_for(one_gpu_sp, bands);
  CHECK(u.fraction == doctest::Approx(0.062));
}

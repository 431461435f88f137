// Measured uncertainty of reserved memory per path (issue 16): a path is what changes how well the
// model predicts — profile (whose code runs), framework, offload, Ulysses on or off, world size. The
// band of a path is the 95th percentile of |predicted - measured| / measured peak reserved bytes over
// its runs in tests/regression/measured. `zplan validate DIR --bands FILE --accept` writes them to
// calibration/reserved_bands.json, which is compiled into the planner (planner/validation/uncertainty.h)
// and checked against the records by the `regression_measured` test.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/config/training_spec.h"

namespace zplan {

struct PathKey {
  Profile profile = Profile::hf;
  Framework framework = Framework::plain;  // as it runs: a ZeRO stage on "plain" is DeepSpeed
  bool offload = false;                    // optimizer or parameter offload
  bool sequence_parallel = false;          // Ulysses degree > 1
  int64_t world_size = 1;
  bool chunked_loss = false;               // the chunked loss path (unmeasured yet: borrows a band)
  std::string str() const;                 // "hf/deepspeed/no-offload/sp>1/world 8[/chunked-loss]"
  // Field by field, which is what equal str() means (each field is spelled apart), without
  // building two strings per comparison: every estimate looks its path up among the bands.
  bool operator==(const PathKey& o) const {
    return profile == o.profile && framework == o.framework && offload == o.offload &&
           sequence_parallel == o.sequence_parallel && world_size == o.world_size && chunked_loss == o.chunked_loss;
  }
};

// The path of a configuration (framework resolved as planner/memory/exec_context.cpp does).
PathKey path_key(const TrainingSpec& training, const Strategy& s, int64_t world_size);

struct PathBand {
  PathKey key;
  size_t runs = 0;             // records that ran (OOM runs have no reserved peak)
  double p95_abs_error = 0;    // nearest-rank 95th percentile of |reserved error|
  double max_abs_error = 0;
};

// One relative reserved error per run, with its path.
struct PathError {
  PathKey key;
  double reserved_error = 0;
};
std::vector<PathBand> measure_bands(const std::vector<PathError>& errors);

nlohmann::json bands_to_json(const std::vector<PathBand>& bands, const std::string& command);
// Throws InputError naming `where` and the field.
std::vector<PathBand> bands_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace zplan

// Placeholder until DeepSpeed interop lands (see deepspeed_config.h).
#include "planner/io/deepspeed_config.h"

#include "planner/input_error.h"

namespace zplan {

void apply_deepspeed_config(const std::string&, Scenario&) {
  throw InputError("--deepspeed", "", "not available in this build");
}
nlohmann::json deepspeed_config_for(const Scenario&, const Strategy&) { return {}; }
void write_deepspeed_for_plan(const Scenario&, const Plan&, const std::string&) {
  throw InputError("--emit-deepspeed", "", "not available in this build");
}

}  // namespace zplan

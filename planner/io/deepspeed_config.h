// DeepSpeed interop: read a user's DeepSpeed JSON config into a Scenario's training facts and
// strategy pins (check), and write one for a chosen plan (--emit-deepspeed).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "planner/config/scenario.h"
#include "planner/search/search.h"

namespace zplan {

// Applies the config at `path` to `s` (pins every dimension the config states; "auto" values are
// resolved the way the Hugging Face integration does). Throws InputError naming file and field.
void apply_deepspeed_config(const std::string& path, Scenario& s);
nlohmann::json deepspeed_config_for(const Scenario& s, const Strategy& st);
// Writes deepspeed_config_for(chosen) to `path` and prints the launch command on stderr. A memory
// fraction below 1 (--memory-fraction) was planned for: the notes say where the script must set it.
void write_deepspeed_for_plan(const Scenario& s, const Plan& plan, const std::string& path, double memory_fraction = 1.0);

}  // namespace zplan

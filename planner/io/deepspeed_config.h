// DeepSpeed interop: read a user's DeepSpeed JSON config into a Scenario's training facts and
// strategy pins (check), and write one for a chosen plan (--emit-deepspeed).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "planner/config/scenario.h"

namespace zplan {

// Applies the config at `path` to `s` (pins every dimension the config states; "auto" values are
// resolved the way the Hugging Face integration does). Throws InputError naming file and field.
void apply_deepspeed_config(const std::string& path, Scenario& s);
nlohmann::json deepspeed_config_for(const Scenario& s, const Strategy& st);
// What the planner concluded about the strategy, for the notes printed beside the file.
struct DeepSpeedNotes {
  bool fits = true;              // false: warn that the config will OOM, quoting the verdict
  std::string verdict;           // Estimate::verdict of the strategy
  double memory_fraction = 1.0;  // --memory-fraction planned for; below 1 the notes say where to set it
};
// Writes deepspeed_config_for(s, st) to `path` and prints the launch command on stderr.
void write_deepspeed_config(const Scenario& s, const Strategy& st, const std::string& path, const DeepSpeedNotes& notes = {});

}  // namespace zplan

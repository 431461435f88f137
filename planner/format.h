// Formatting shared by every report, verdict and message: byte counts and the one-line summary of a
// strategy. Counting stays in integer bytes everywhere else; this is where it becomes text.
#pragma once
#include <cstdint>
#include <string>

#include "planner/config/training_spec.h"  // Strategy

namespace zplan {

// "12.34 GiB" from 1 GiB up, else "512.0 MiB" (binary units, as torch.cuda reports).
std::string format_bytes(uint64_t bytes);
// One line per strategy for tables and notes: "ZeRO-3, ckpt 48/48 (CPU), SP 8, mb 1 x ga 2, bf16".
std::string strategy_summary(const Strategy& st, int64_t layers);

}  // namespace zplan

// Reading and writing calibration files of the step-time model (planner/cost/calibration.h) and
// choosing the constants for a GPU: --calibration FILE, else the built-in
// hardware/calibration/<gpu>.yaml, else the documented defaults ("uncalibrated").
//
// Calibration YAML keys: gpu (a hardware profile name or alias), note (free text), profiles: a map
// from "hf"/"zplan" to {runs, matmul_efficiency, attention_efficiency, memory_bw_efficiency, optimizer_traffic_factor,
// kernel_overhead_seconds, micro_step_overhead_seconds, link_efficiency, offload_efficiency,
// host_sync_seconds, offload_step_efficiency and zero3_hook_seconds (optional: the defaults when
// absent), fitted (list of term names)}. Efficiencies in (0, 1], overheads >= 0.
#pragma once
#include <optional>
#include <string>

#include "planner/cost/calibration.h"

namespace zplan {

Calibration parse_calibration_yaml(const std::string& text, const std::string& source);
Calibration load_calibration(const std::string& path);  // InputError (exit 2) naming file and field
std::string calibration_yaml(const Calibration& c);
// The built-in calibration of a GPU profile (hardware/calibration/<name>.yaml, compiled in), if any.
std::optional<Calibration> builtin_calibration(const std::string& gpu_name);

// The constants for this GPU and profile: from `user` when it is for this GPU, else the built-in
// calibration, else the built-in calibration of another GPU of the same compute capability
// (CostOptions::calibration says "borrowed from ..."), else the defaults (CostOptions::calibration
// empty = "uncalibrated").
CostOptions cost_options_for(const GpuSpec& gpu, Profile profile, const Calibration* user);

}  // namespace zplan

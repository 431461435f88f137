// kernel_profile: GPU kernel time of a stretch of work, by kernel name, from PyTorch's Kineto
// profiler (CUPTI). Used by zplan_measure_runtime --kernel-profile to say where a step's time goes
// (issue 20: "profile before optimising"); tools/gpu/kernel_summary.py sorts the names into
// categories beside the Hugging Face side, whose bench_hf_train.py writes the same file format.
#pragma once
#include <functional>
#include <string>

namespace zplan::tools {

// Runs `work` under the profiler and writes a TSV to tsv_path: a header line
// "# steps <steps> wall_seconds <W>" then one line per kernel name: name, launches, total
// nanoseconds (over the whole stretch; divide by steps). Throws InputError (exit 2) where the
// libtorch in use has no Kineto (Debian's 1.13 build), std::runtime_error if the file can't be written.
void run_with_kernel_profile(const std::string& tsv_path, int steps, const std::function<void()>& work);

}  // namespace zplan::tools

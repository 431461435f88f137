// See kernel_profile.h. Kineto's C++ entry points are those torch.profiler uses from Python
// (torch/csrc/autograd/profiler_kineto.h); their signatures are those of libtorch 2.x.
#include "tools/gpu/kernel_profile.h"

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <torch/version.h>

#include "planner/input_error.h"

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/autograd/profiler_kineto.h>
#endif

namespace zplan::tools {

void run_with_kernel_profile(const std::string& tsv_path, int steps, const std::function<void()>& work) {
#if TORCH_VERSION_MAJOR >= 2
  namespace prof = torch::autograd::profiler;
  namespace impl = torch::profiler::impl;
  const impl::ProfilerConfig config(impl::ProfilerState::KINETO);
  const std::set<impl::ActivityType> activities{impl::ActivityType::CPU, impl::ActivityType::CUDA};
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  const auto start = std::chrono::steady_clock::now();
  work();
  const double wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::unique_ptr<prof::ProfilerResult> result = prof::disableProfiler();
  struct Total { int64_t launches = 0; uint64_t nanoseconds = 0; };
  std::map<std::string, Total> by_name;
  for (const auto& event : result->events()) {
    if (event.deviceType() != c10::DeviceType::CUDA) continue;  // CPU-side ops and runtime calls
    Total& total = by_name[event.name()];
    total.launches += 1;
    total.nanoseconds += event.durationNs();
  }
  std::ofstream out(tsv_path);
  out << "# steps " << steps << " wall_seconds " << wall_seconds << "\n";
  for (const auto& [name, total] : by_name) out << name << "\t" << total.launches << "\t" << total.nanoseconds << "\n";
  if (!out) throw std::runtime_error("could not write the kernel profile to " + tsv_path);
#else
  (void)steps;
  (void)work;
  throw InputError("--kernel-profile", tsv_path,
                   "this libtorch (" TORCH_VERSION ") has no Kineto profiler API; build against libtorch 2.x");
#endif
}

}  // namespace zplan::tools

// Host RAM, predicted against measured (see host_memory_report in validation.h). Kept apart from
// the GPU table: only records whose harness read the process's resident set carry it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "planner/format.h"
#include "planner/validation/validation.h"

namespace zplan {

std::string host_memory_report(const std::vector<ValidationRow>& rows, bool md) {
  std::vector<const ValidationRow*> measured;
  for (const ValidationRow& r : rows)
    if (r.measured_host_bytes > 0 && !r.measured_oom) measured.push_back(&r);
  if (measured.empty()) return "";
  std::ostringstream o;
  o << (md ? "\n### Host RAM per process\n\nResident set at the end of a step (harness: tools/hf_reference/measure_deepspeed.py) against the "
             "predicted steady host memory per process (planner/memory/host_memory.cpp).\n\n"
             "| run | strategy | measured GiB | zplan GiB | error |\n|---|---|---:|---:|---:|\n"
           : "\nhost RAM per process                              strategy                                   measured  predicted   error\n");
  double sum_all = 0, max_all = 0, sum_off = 0, max_off = 0;
  size_t offloaded = 0;
  for (const ValidationRow* r : measured) {
    const double err = r->host_error;
    sum_all += std::abs(err);
    max_all = std::max(max_all, std::abs(err));
    if (r->strategy.offload_optimizer || r->strategy.offload_params) {
      ++offloaded;
      sum_off += std::abs(err);
      max_off = std::max(max_off, std::abs(err));
    }
    const std::string name = r->group + "/" + std::filesystem::path(r->file).stem().string();
    const double meas = static_cast<double>(r->measured_host_bytes) / (1ull << 30);
    const double pred = static_cast<double>(r->predicted_host_bytes) / (1ull << 30);
    char buf[512];
    std::snprintf(buf, sizeof buf, md ? "| %s | %s | %.2f | %.2f | %+.1f%% |\n" : "%-49.49s %-42.42s %8.2f  %9.2f  %+6.1f%%\n",
                  name.c_str(), strategy_summary(r->strategy, r->layers).c_str(), meas, pred, 100.0 * err);
    o << buf;
  }
  char buf[300];
  std::snprintf(buf, sizeof buf,
                md ? "\nHost RAM: %zu runs, mean |error| %.1f%%, max %.1f%%; with offload: %zu runs, mean %.1f%%, max %.1f%%.\n"
                   : "host RAM: %zu runs, mean |err| %.1f%%, max %.1f%%; with offload: %zu runs, mean %.1f%%, max %.1f%%\n",
                measured.size(), 100.0 * sum_all / static_cast<double>(measured.size()), 100.0 * max_all, offloaded,
                offloaded ? 100.0 * sum_off / static_cast<double>(offloaded) : 0.0, 100.0 * max_off);
  o << buf;
  return o.str();
}

}  // namespace zplan

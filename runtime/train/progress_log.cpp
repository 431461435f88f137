// progress_log.cpp: the per-step progress line and JSON-lines log (fields in progress_log.h).
#include "runtime/train/progress_log.h"

#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "planner/input_error.h"

namespace zplan::rt {

ProgressLog::ProgressLog(const std::string& jsonl_path, bool print_lines)
    : path_(jsonl_path), print_lines_(print_lines) {
  if (path_.empty()) return;
  jsonl_.open(path_, std::ios::app);
  if (!jsonl_) throw InputError("--log-jsonl", "", "cannot open " + path_ + " for writing");
}

uint64_t ProgressLog::host_peak_rss_bytes() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

double ProgressLog::seconds_left(const StepReport& r) const {
  const size_t skip = step_seconds_.size() > 1 ? 1 : 0;  // the first step warms up
  double sum = 0.0;
  for (size_t i = skip; i < step_seconds_.size(); ++i) sum += step_seconds_[i];
  const double mean = sum / static_cast<double>(step_seconds_.size() - skip);
  return mean * static_cast<double>(r.total_steps - r.step);
}

std::string format_duration(double seconds) {
  const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

void ProgressLog::record(const StepReport& r) {
  step_seconds_.push_back(r.step_seconds);
  elapsed_seconds_ += r.step_seconds;
  const double left = seconds_left(r);
  const double tokens_per_second = r.step_seconds > 0.0 ? static_cast<double>(r.tokens) / r.step_seconds : 0.0;
  const uint64_t rss = host_peak_rss_bytes();
  if (print_lines_) {
    char memory[64];
    if (r.peak_allocated_bytes > 0) std::snprintf(memory, sizeof memory, "peak %.2f GiB", r.peak_allocated_bytes / 1073741824.0);
    else std::snprintf(memory, sizeof memory, "host peak %.2f GiB", rss / 1073741824.0);
    std::string extra;
    if (r.grad_norm) extra += " | grad norm " + std::to_string(*r.grad_norm).substr(0, 6);
    if (r.eval_loss) extra += " | eval loss " + std::to_string(*r.eval_loss).substr(0, 6);
    if (r.skipped) extra += " (skipped: fp16 overflow)";
    std::fprintf(stderr, "[zplan-run] step %d/%d | loss %.4f | lr %.3e | %.0f tok/s | %s | %s left%s\n",
                 r.step, r.total_steps, r.loss, r.lr, tokens_per_second, memory,
                 format_duration(left).c_str(), extra.c_str());
  }
  if (!jsonl_.is_open()) return;
  nlohmann::json j = {{"step", r.step}, {"steps", r.total_steps}, {"loss", r.loss}, {"lr", r.lr},
                      {"grad_norm", nullptr}, {"tokens_per_second", tokens_per_second},
                      {"step_seconds", r.step_seconds}, {"elapsed_seconds", elapsed_seconds_},
                      {"seconds_left", left}, {"peak_allocated_bytes", r.peak_allocated_bytes},
                      {"host_peak_rss_bytes", rss}, {"skipped", r.skipped}};
  if (r.grad_norm) j["grad_norm"] = *r.grad_norm;
  if (r.eval_loss) j["eval_loss"] = *r.eval_loss;
  if (!std::isfinite(r.loss)) j["loss"] = nullptr;  // JSON has no NaN
  jsonl_ << j.dump() << "\n";
  jsonl_.flush();  // a run killed later still leaves every finished step in the log
  if (!jsonl_) throw InputError("--log-jsonl", "", "failed writing " + path_);
}

}  // namespace zplan::rt

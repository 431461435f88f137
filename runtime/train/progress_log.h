// progress_log.h: what a person watching a training run sees, and what a script reads. One
// progress line per optimizer step on stderr and, with --log-jsonl FILE, one JSON object per step
// with the same fields (the file is appended to, so a resumed run continues its log):
//   {"step": 12, "steps": 200, "loss": 3.41, "lr": 0.0003, "grad_norm": 0.92,
//    "tokens_per_second": 5120.4, "step_seconds": 0.8, "elapsed_seconds": 9.6,
//    "seconds_left": 150.4, "peak_allocated_bytes": 123456, "host_peak_rss_bytes": 654321,
//    "skipped": false, "eval_loss": 3.52}
// step is 1-based (steps done). grad_norm is null without --clip-grad; eval_loss appears only on
// steps that evaluated. peak_allocated_bytes is the CUDA allocator's peak of that step (0 on the
// CPU, where it is not readable); host_peak_rss_bytes is the process's peak resident memory.
// seconds_left: the mean duration of this run's steps (the first one, which warms up, left out
// once there are others) times the steps still to do.
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace zplan::rt {

struct StepReport {
  int step = 0;           // 1-based
  int total_steps = 0;
  double loss = 0.0;
  double lr = 0.0;
  std::optional<double> grad_norm;
  bool skipped = false;   // fp16 overflow: the update was skipped
  int64_t tokens = 0;     // tokens this step trained on
  double step_seconds = 0.0;
  uint64_t peak_allocated_bytes = 0;
  std::optional<double> eval_loss;
};

class ProgressLog {
 public:
  // jsonl_path empty: no file. Throws InputError (--log-jsonl) when it cannot be opened.
  ProgressLog(const std::string& jsonl_path, bool print_lines);
  // Completes the report's timing fields, prints the line and appends the JSON object.
  void record(const StepReport& report);
  static uint64_t host_peak_rss_bytes();

 private:
  double seconds_left(const StepReport& r) const;

  std::string path_;
  std::ofstream jsonl_;
  bool print_lines_;
  std::vector<double> step_seconds_;
  double elapsed_seconds_ = 0.0;
};

// "1h02m", "3m05s", "12s": time left as people read it.
std::string format_duration(double seconds);

}  // namespace zplan::rt

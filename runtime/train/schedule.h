// schedule.h: the learning rate at each optimizer step. Pure arithmetic (no torch) so the CLI,
// the trainer and the tests share one definition.
//   steps 0 .. W-1 (warm-up):   lr * (s + 1) / W        (the first step already moves the weights)
//   steps W .. N-1 (cosine):    min + (lr - min) * (1 + cos(pi * (s - W) / (N - 1 - W))) / 2
// so the first step after the warm-up runs at lr and the last step (N - 1) at min_lr. With
// min_lr < 0 the rate stays at lr after the warm-up (no decay).
#pragma once

namespace zplan::rt {

struct LrSchedule {
  double peak_lr = 1e-4;
  int warmup_steps = 0;
  double min_lr = -1.0;  // < 0: constant after the warm-up
  int total_steps = 1;
};

// Step is 0-based; steps beyond total_steps - 1 get the final rate.
double learning_rate_at(const LrSchedule& schedule, int step);

// Throws InputError naming the flag when the schedule cannot be followed.
void check_schedule(const LrSchedule& schedule);

}  // namespace zplan::rt

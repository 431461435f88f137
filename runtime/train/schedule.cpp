// schedule.cpp: linear warm-up + cosine decay (see schedule.h for the formula).
#include "runtime/train/schedule.h"

#include <algorithm>
#include <cmath>

#include "planner/input_error.h"

namespace zplan::rt {

double learning_rate_at(const LrSchedule& s, int step) {
  step = std::max(0, std::min(step, s.total_steps - 1));
  if (step < s.warmup_steps) return s.peak_lr * static_cast<double>(step + 1) / s.warmup_steps;
  if (s.min_lr < 0.0) return s.peak_lr;
  const int decay_steps = s.total_steps - 1 - s.warmup_steps;
  if (decay_steps <= 0) return s.peak_lr;  // the only step after the warm-up is the last: keep lr
  const double progress = static_cast<double>(step - s.warmup_steps) / decay_steps;
  return s.min_lr + (s.peak_lr - s.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

void check_schedule(const LrSchedule& s) {
  if (!(s.peak_lr > 0.0) || !std::isfinite(s.peak_lr)) throw InputError("--lr", "", "must be a positive number");
  if (s.warmup_steps < 0) throw InputError("--warmup-steps", "", "must be >= 0");
  if (s.min_lr >= 0.0 && s.min_lr > s.peak_lr)
    throw InputError("--min-lr", "", "must be <= --lr (the cosine decays from --lr down to --min-lr)");
  if (s.total_steps < 0) throw InputError("--steps", "", "must be >= 0 (0: no training step)");
}

}  // namespace zplan::rt

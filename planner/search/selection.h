// Which feasible plan to recommend (issue 16), in one place so the rule can be read and tested:
// the step-time model cannot tell apart plans whose predicted throughputs differ by less than its
// measured error, so all plans within that error of the fastest feasible one form a tie, and of
// them the one with the most memory free at its peak wins (then higher throughput, then the simpler
// strategy). Outside the tie, faster first. --objective memory ranks by free memory alone.
#pragma once
#include <vector>

#include "planner/estimate.h"

namespace zplan {

enum class Objective { throughput, memory };

// The step-time model's measured error, as a fraction of predicted throughput: the calibrated
// model's mean error on models it was not fitted to, 15-16% for the Hugging Face profile on H100
// and H200 (leave-one-model-out, docs/cost-model.md, `zplan calibrate`). Plans closer than this
// cannot be told apart by the model; the ranking then prefers the one with more memory free.
constexpr double kStepTimeModelError = 0.15;

// Sorts feasible estimates so that the recommended plan comes first (see above).
void rank_feasible(std::vector<Estimate>& feasible, Objective objective);

// The throughput below which a plan is outside the tie of a best feasible throughput `best`.
inline double tie_floor(double best_tokens_per_second) { return best_tokens_per_second * (1.0 - kStepTimeModelError); }

// True when `a` ranks before `b` once both are known to be in the tie (or under Objective::memory).
bool more_free_first(const Estimate& a, const Estimate& b);
// True when `a` ranks before `b` given the tie's throughput floor (0 for Objective::memory).
bool ranks_before(const Estimate& a, const Estimate& b, double floor);

}  // namespace zplan

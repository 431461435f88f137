// Which feasible plan to recommend (issue 16, issue 22), in one place so the rule can be read and
// tested: the step-time model cannot tell apart plans whose predicted throughputs differ by less
// than its error between plans of one scenario, so all plans within that error of the fastest
// feasible one form a tie, and of them the one with the most memory free at its peak wins (then
// higher throughput, then the simpler strategy). Outside the tie, faster first. --objective memory
// ranks by free memory alone.
#pragma once
#include <vector>

#include "planner/estimate.h"

namespace zplan {

enum class Objective { throughput, memory };

// The step-time model's error between plans of one scenario (same model, sequence and GPU), as a
// fraction of predicted throughput. Its absolute error is larger (15-35% on an uncalibrated GPU,
// docs/cost-model.md), but that error is shared: the ranking check (tools/gpu/ranking_check.sh,
// 2026-12-05, 15 plans of 3 scenarios on an H100) measured each plan's throughput error minus its
// scenario's mean error at 0.9% RMS and 2.1% at most. A wider window picked plans up to 16% slower
// than the fastest measured for a little more free memory; the fit verdict already carries the
// memory uncertainty (planner/validation/uncertainty.h), so the window holds only the ranking's own.
constexpr double kPlanRankingError = 0.02;

// Sorts feasible estimates so that the recommended plan comes first (see above).
void rank_feasible(std::vector<Estimate>& feasible, Objective objective);

// The throughput below which a plan is outside the tie of a best feasible throughput `best`.
inline double tie_floor(double best_tokens_per_second) { return best_tokens_per_second * (1.0 - kPlanRankingError); }

// True when `a` ranks before `b` once both are known to be in the tie (or under Objective::memory).
bool more_free_first(const Estimate& a, const Estimate& b);
// True when `a` ranks before `b` given the tie's throughput floor (0 for Objective::memory).
bool ranks_before(const Estimate& a, const Estimate& b, double floor);

}  // namespace zplan

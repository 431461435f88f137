// Least-squares fit of the step-time constants (see calibration.h).
#include "planner/cost/calibration.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

#include "planner/cost/host_device_overlap.h"

namespace zplan {
namespace {

// Least squares of the linear model sum(weight x term) with the weights of `free_terms` solved
// and the others kept at `prior`, under the lower bounds (active set: the worst violation is pinned
// at its bound and the rest solved again).
struct BoundedSolve {
  StepTermVector weights{};
  std::vector<bool> pinned = std::vector<bool>(kStepTermCount, false);
};

BoundedSolve solve_bounded(const std::vector<CalibrationSample>& samples, const StepTermVector& prior,
                           const std::vector<size_t>& free_terms, double prior_weight, const StepTermVector& lower_bound) {
  BoundedSolve out;
  out.weights = prior;
  for (int round = 0; round <= static_cast<int>(kStepTermCount); ++round) {
    std::vector<size_t> solve;
    for (size_t t : free_terms)
      if (!out.pinned[t]) solve.push_back(t);
    if (solve.empty()) break;
    // Rows: relative residual (prediction / measured - 1) of each sample, then one prior row per
    // solved term pulling its weight, relative to the default, towards the default.
    const Eigen::Index n = static_cast<Eigen::Index>(samples.size()), p = static_cast<Eigen::Index>(solve.size());
    Eigen::MatrixXd a = Eigen::MatrixXd::Zero(n + p, p);
    Eigen::VectorXd b = Eigen::VectorXd::Zero(n + p);
    for (Eigen::Index i = 0; i < n; ++i) {
      const CalibrationSample& s = samples[static_cast<size_t>(i)];
      double known = 0;  // time of the terms not being solved
      for (size_t t = 0; t < kStepTermCount; ++t)
        if (std::find(solve.begin(), solve.end(), t) == solve.end()) known += out.weights[t] * s.terms[t];
      for (Eigen::Index j = 0; j < p; ++j) a(i, j) = s.terms[solve[static_cast<size_t>(j)]] / s.measured_seconds;
      b(i) = 1.0 - known / s.measured_seconds;
    }
    for (Eigen::Index j = 0; j < p; ++j) {
      const double d = prior[solve[static_cast<size_t>(j)]];
      a(n + j, j) = prior_weight / d;
      b(n + j) = prior_weight;
    }
    const Eigen::VectorXd x = a.colPivHouseholderQr().solve(b);
    // Pin the worst bound violation and solve again; done when none is violated.
    size_t worst = kStepTermCount;
    double worst_gap = 0;
    for (Eigen::Index j = 0; j < p; ++j) {
      const size_t t = solve[static_cast<size_t>(j)];
      const double gap = (lower_bound[t] - x(j)) / std::max(prior[t], 1e-12);
      if (gap > worst_gap) worst_gap = gap, worst = t;
    }
    if (worst == kStepTermCount) {
      for (Eigen::Index j = 0; j < p; ++j) out.weights[solve[static_cast<size_t>(j)]] = x(j);
      break;
    }
    out.pinned[worst] = true;
    out.weights[worst] = lower_bound[worst];
  }
  return out;
}

}  // namespace

StepTermVector physical_lower_bounds(const GpuSpec& gpu) {
  StepTermVector bounds;
  bounds.fill(1.0);  // efficiencies
  for (size_t t : kOverheadTerms) bounds[t] = 0.0;
  // The attention term is FLOPs at the 16-bit peak (step_terms.cpp): no step's attention runs
  // faster than the kernel alone does on this GPU.
  const double peak = std::max(gpu.bf16_tflops, gpu.fp16_tflops);
  if (gpu.attention_kernel_tflops > 0 && peak > 0) bounds[kAttentionTerm] = std::max(1.0, peak / gpu.attention_kernel_tflops);
  // Likewise the GEMMs: no step's matmuls run faster than the fastest GEMM measured alone (its
  // fp32 GEMMs reach the same share of the fp32 peak on an H100: 0.77 against 0.78).
  if (gpu.matmul_kernel_tflops > 0 && peak > 0) bounds[kMatmulTerm] = std::max(1.0, peak / gpu.matmul_kernel_tflops);
  return bounds;
}

CombinedStep predicted_step(const StepTermVector& terms, const StepTermVector& weights, const StepMechanisms& k) {
  return combine_step_terms(weighted_terms(terms, weights), k.host_device_overlap_norm);
}

double predicted_step_seconds(const StepTermVector& terms, const StepTermVector& weights, const StepMechanisms& k) {
  return predicted_step(terms, weights, k).seconds;
}

FitResult fit_term_weights(const std::vector<CalibrationSample>& samples, const CostOptions& defaults, double prior_weight,
                           const StepTermVector& lower_bounds) {
  const StepTermVector prior = term_weights(defaults);
  const double overlap_norm = defaults.mechanisms.host_device_overlap_norm;
  FitResult out;
  out.weights = prior;
  // A term is fitted when some sample spends a visible share of its predicted time in it.
  std::vector<size_t> free_terms;
  for (size_t t = 0; t < kStepTermCount; ++t) {
    double share = 0;
    for (const CalibrationSample& s : samples) {
      double total = 0;
      for (size_t k = 0; k < kStepTermCount; ++k) total += prior[k] * s.terms[k];
      if (total > 0) share = std::max(share, prior[t] * s.terms[t] / total);
    }
    if (share > 0.01) free_terms.push_back(t);
  }
  if (samples.empty() || free_terms.empty()) return out;
  // The step (host_device_overlap.h) is homogeneous of degree one in the weighted terms: at weights
  // w it equals sum(w_t x marginal_t(w) x term_t). Solving the linear problem on the terms scaled by
  // their marginal at w, and repeating until w settles, ends where the gradient of the squared
  // relative residuals vanishes (its Jacobian is those scaled terms). Half steps keep it from
  // oscillating between the host-bound and device-bound readings of a sample.
  BoundedSolve solved;
  StepTermVector w = prior;
  std::vector<CalibrationSample> scaled = samples;  // its terms are rewritten each iteration
  for (int iteration = 0; iteration < 200; ++iteration) {
    for (size_t i = 0; i < samples.size(); ++i) {
      const CombinedStep c = combine_step_terms(weighted_terms(samples[i].terms, w), overlap_norm);
      for (size_t t = 0; t < kStepTermCount; ++t) scaled[i].terms[t] = samples[i].terms[t] * c.marginal[t];
    }
    solved = solve_bounded(scaled, prior, free_terms, prior_weight, lower_bounds);
    double change = 0;
    for (size_t t = 0; t < kStepTermCount; ++t) {
      const double next = iteration == 0 ? solved.weights[t] : 0.5 * (w[t] + solved.weights[t]);
      change = std::max(change, std::abs(next - w[t]) / std::max(prior[t], 1e-12));
      w[t] = next;
    }
    if (overlap_norm <= 1.0 || change < 1e-9) break;
  }
  out.weights = w;
  for (size_t t : free_terms) out.fitted.push_back(step_term_name(t) + std::string(solved.pinned[t] ? " (at its bound)" : ""));
  return out;
}

}  // namespace zplan

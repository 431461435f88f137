// Pricing one op into a pass (see pass_costs.h).
#include "planner/cost/pass_costs.h"

#include <algorithm>
#include <cmath>

namespace zplan {

void add_op(Pass& p, const StepMechanisms& k, double forward_bytes, double backward_bytes, double forward_kernels,
            double backward_kernels) {
  const double backward_share = k.training_passes_per_forward - 1.0;
  p.memory_bytes += forward_bytes;
  p.kernels += forward_kernels;
  p.backward_only_bytes += backward_bytes - backward_share * forward_bytes;
  p.backward_only_kernels += backward_kernels - backward_share * forward_kernels;
}

void add_dropout(Pass& p, const StepMechanisms& k, double elements, double element_bytes) {
  const double bytes = elements * (2.0 * element_bytes + 1.0);
  add_op(p, k, bytes, bytes, 1.0, 1.0);
}

void add_bias_gradient(Pass& p, const StepMechanisms& k, double tokens, double outputs, double element_bytes) {
  add_op(p, k, 0.0, tokens * outputs * element_bytes, 0.0, 1.0);
}

void gemm(Pass& p, const Rates& r, double m, double k, double n, double count) {
  const double flops = 2.0 * m * k * n;
  const double bytes = (m * k + k * n + m * n) * r.act_bytes;
  const bool misaligned = r.act_bytes == 2 && (std::fmod(k, 8.0) != 0 || std::fmod(n, 8.0) != 0);
  const double peak = misaligned ? r.peak * r.misaligned_gemm_rate : r.peak;
  p.matmul_seconds += count * std::max(flops / peak, bytes / r.hbm);
  p.matmul_flops += count * flops;
  p.kernels += count;
}

void add(Pass& into, const Pass& p, double times) {
  into.matmul_seconds += times * p.matmul_seconds;
  into.attention_seconds += times * p.attention_seconds;
  into.memory_bytes += times * p.memory_bytes;
  into.kernels += times * p.kernels;
  into.matmul_flops += times * p.matmul_flops;
  into.attention_flops += times * p.attention_flops;
  into.host_syncs += times * p.host_syncs;
  into.backward_only_bytes += times * p.backward_only_bytes;
  into.backward_only_kernels += times * p.backward_only_kernels;
}

}  // namespace zplan

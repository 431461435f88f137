// The routed experts of a sparse layer (see expert_costs.h).
#include "planner/cost/expert_costs.h"

#include <algorithm>

namespace zplan {

ExpertPath expert_path(const TrainingSpec& training, const ExecContext& c, const GpuSpec& gpu) {
  if (training.experts == ExpertsImpl::eager && training.profile == Profile::hf) return ExpertPath::python_loop;
  if (training.experts == ExpertsImpl::loop) return ExpertPath::runtime_loop;
  // The experts run on the weights' dtype: fp32 under autocast (not on its list), 16 bits when the
  // parameters are (bf16 recipes, FSDP2's mixed-precision policy).
  const bool bf16 = c.precision == Precision::bf16 || c.precision == Precision::bf16_pure || c.precision == Precision::amp_bf16;
  const bool bf16_experts = bf16 && c.param_bytes == 2 && !c.autocast;
  const bool fused_kernel = gpu.compute_capability >= 9.0 && gpu.compute_capability < 11.0;
  return bf16_experts && fused_kernel ? ExpertPath::grouped : ExpertPath::grouped_fallback;
}

void add_routed_experts(Pass& p, const ModelSpec& m, const ExecContext& c, const Rates& r, const StepMechanisms& k,
                        double tokens, ExpertPath experts) {
  const double C = static_cast<double>(m.hidden);
  const double a = r.act_bytes;
  const double E = m.moe.num_experts, K = m.moe.experts_per_token, FE = static_cast<double>(m.moe.expert_ffn);
  gemm(p, r, tokens, C, E);                          // router
  // Under autocast the experts' weights stay fp32 and _grouped_mm is not on autocast's list, so
  // both grouped paths (and the runtime's loop) multiply fp32 rows by fp32 weights: ATen's
  // fallback, one fp32 GEMM per expert at the fp32 rate. transformers' eager loop calls F.linear,
  // which autocast runs in 16 bits after casting each hit expert's three weight matrices.
  const bool fp32_weights_under_autocast = c.autocast && c.param_bytes == 4;
  Rates re = r;
  if (fp32_weights_under_autocast && experts != ExpertPath::python_loop) {
    re.peak = r.fp32_peak;
    re.act_bytes = 4;
  }
  p.kernels += 12;                                   // softmax, top-k, renormalise, sort, histogram, permute
  p.memory_bytes += tokens * E * 12.0;               // router probabilities
  const double routed = tokens * K * C;              // elements of the rows sent to experts
  if (c.profile == Profile::zplan && a == 2 && !c.autocast) {
    // zplan's runtime: three gathers and the weighted sum forward; backward, three 16-bit
    // index_add_ (StepMechanisms::index_add_16bit_bytes_per_element) and the sum's broadcast.
    add_op(p, k, routed * 4.0 * a, routed * (3.0 * k.index_add_16bit_bytes_per_element + a), 0.0, 0.0);
  } else {
    p.memory_bytes += routed * 4.0 * a;              // token permutation
  }
  // Tokens per expert on average (top-k routing balances load in expectation; imbalance is a
  // measured effect the fitted constants absorb).
  const double per_expert = tokens * K / E;
  const double hit = std::min(E, tokens * K);        // experts that receive at least one token
  if (experts == ExpertPath::python_loop) {
    // Per hit expert: a mask lookup that waits for the GPU (torch.where), a gather, three GEMMs,
    // the activation and a weighted index_add.
    p.kernels += hit * 6.0;
    p.host_syncs += hit;
    if (fp32_weights_under_autocast) {  // autocast's casts of the three weight matrices
      p.kernels += 3.0 * hit;
      p.memory_bytes += hit * 3.0 * C * FE * (4.0 + r.act_bytes);
    }
    // `self.gate_up_proj[expert]` and `self.down_proj[expert]` index the stacked parameters, and
    // autograd's select backward returns a gradient of the whole stack: per hit expert and stack,
    // a zero-filled [E, ...] tensor (one write) summed into the parameter's gradient buffer (two
    // reads, one write). The grouped paths make each stack's gradient once.
    const double stacked_grad_bytes = E * 3.0 * C * FE * static_cast<double>(c.param_bytes);
    add_op(p, k, 0.0, hit * 4.0 * stacked_grad_bytes, 0.0, hit * 4.0);  // memset and add, per stack
    gemm(p, re, per_expert * E / hit, C, FE, 2.0 * hit);
    gemm(p, re, per_expert * E / hit, FE, C, hit);
  } else if (experts == ExpertPath::grouped_fallback || experts == ExpertPath::runtime_loop) {
    p.kernels += 6;
    p.host_syncs += experts == ExpertPath::runtime_loop ? 1 : 2;  // fallback: offs.cpu() per call
    gemm(p, re, per_expert * E / hit, C, 2.0 * FE, hit);  // fused gate_up per expert
    gemm(p, re, per_expert * E / hit, FE, C, hit);
  } else {
    Rates grouped = re;                              // one CUTLASS kernel for all experts
    grouped.peak *= per_expert / (per_expert + k.grouped_gemm_half_rate_rows);
    gemm(p, grouped, per_expert, C, FE, 2.0 * E);
    gemm(p, grouped, per_expert, FE, C, E);
    p.kernels -= 3.0 * E - 4.0;                      // grouped GEMMs launch once for all experts
  }
  p.memory_bytes += tokens * K * FE * re.act_bytes * 5.0;  // SiLU(gate) * up on the routed tokens
}

}  // namespace zplan

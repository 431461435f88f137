// How the host's dispatch overlaps the GPU's work within a step. PyTorch enqueues kernels
// asynchronously: while the GPU runs a long GEMM the host goes on launching, so the launch cost of
// the next ops is hidden, and where a run of small ops (norms, RoPE, residuals) takes the GPU less
// time than the host needs to launch them, the GPU waits. Neither the sum (no overlap) nor the max
// (perfect overlap) of the two holds for a pass that alternates between both; the step charges
//     (device^p + host^p)^(1/p) + serial
// with p = StepMechanisms::host_device_overlap_norm. The host side is the kernel launches and
// DeepSpeed's ZeRO-3 hooks (Python that never waits for the GPU at one rank: deepspeed_step.h).
// Terms that neither side hides sit in `serial`: the optimizer step (enqueued after backward,
// before the step's closing synchronisation), the per-micro-step loop overhead, host
// synchronisations, exposed collectives, DeepSpeed's offloaded step. docs/cost-model.md, "Host
// and device overlap".
#pragma once
#include "planner/cost/step_terms.h"

namespace zplan {

enum class TermSide { device, host, serial };
TermSide term_side(size_t term);

struct CombinedStep {
  double seconds = 0;        // the step
  double device_seconds = 0; // sum of the weighted device terms
  double host_seconds = 0;   // sum of the weighted host terms (dispatch)
  double serial_seconds = 0;
  double hidden_seconds = 0; // device + host + serial - seconds: what the overlap hides
  // d seconds / d (weighted term): 1 for serial terms, (side / overlapped)^(p-1) for the others.
  // The step is homogeneous of degree one in the weighted terms, so sum(marginal x weighted) = seconds.
  StepTermVector marginal{};
  // The host's dispatch, not the GPU's work, bounds the step (the regime calibrate splits by).
  bool host_bound() const { return host_seconds > device_seconds; }
};

// Each term times its weight: seconds (terms in seconds at datasheet rates times 1/efficiency,
// counts times seconds per count).
StepTermVector weighted_terms(const StepTermVector& terms, const StepTermVector& weights);

// `weighted` = each term times its weight (seconds); p >= 1 (1 = no overlap, the plain sum).
CombinedStep combine_step_terms(const StepTermVector& weighted, double overlap_norm);

}  // namespace zplan

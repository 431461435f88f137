// Host/device overlap of a step's terms (see host_device_overlap.h).
#include "planner/cost/host_device_overlap.h"

#include <algorithm>
#include <cmath>

namespace zplan {

TermSide term_side(size_t term) {
  switch (term) {
    case kMatmulTerm:
    case kAttentionTerm:
    case kMemoryBoundTerm:
    case kOffloadTerm: return TermSide::device;  // CPU-checkpoint copies run on the GPU's copy engines
    case kKernelTerm:
    case kZero3HookTerm:
    case kZero2HookTerm:
    case kCheckpointHookTerm: return TermSide::host;
    default: return TermSide::serial;
  }
}

StepTermVector weighted_terms(const StepTermVector& terms, const StepTermVector& weights) {
  StepTermVector out{};
  for (size_t t = 0; t < kStepTermCount; ++t) out[t] = weights[t] * terms[t];
  return out;
}

CombinedStep combine_step_terms(const StepTermVector& weighted, double overlap_norm) {
  CombinedStep c;
  for (size_t t = 0; t < kStepTermCount; ++t) {
    switch (term_side(t)) {
      case TermSide::device: c.device_seconds += weighted[t]; break;
      case TermSide::host: c.host_seconds += weighted[t]; break;
      case TermSide::serial: c.serial_seconds += weighted[t]; break;
    }
  }
  const double p = std::max(1.0, overlap_norm);
  const double d = std::max(0.0, c.device_seconds), h = std::max(0.0, c.host_seconds);
  const double big = std::max(d, h);
  double overlapped = 0, d_share = 0, h_share = 0;
  if (big > 0) {
    // Scaled by the larger side so that the powers neither overflow nor underflow.
    const double dr = d / big, hr = h / big;
    const double norm = std::pow(std::pow(dr, p) + std::pow(hr, p), 1.0 / p);
    overlapped = big * norm;
    d_share = std::pow(dr / norm, p - 1.0);
    h_share = std::pow(hr / norm, p - 1.0);
  }
  c.seconds = overlapped + c.serial_seconds;
  c.hidden_seconds = std::max(0.0, c.device_seconds + c.host_seconds - overlapped);
  for (size_t t = 0; t < kStepTermCount; ++t) {
    const TermSide side = term_side(t);
    c.marginal[t] = side == TermSide::serial ? 1.0 : side == TermSide::device ? d_share : h_share;
  }
  return c;
}

}  // namespace zplan

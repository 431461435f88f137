// grad_clip.cpp: global-norm clipping (see grad_clip.h).
#include "runtime/train/grad_clip.h"

#include <cmath>

namespace zplan::rt {

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm, double loss_scale) {
  at::NoGradGuard no_grad;
  at::Tensor sum_sq;
  for (const at::Tensor& p : params) {
    if (!p.grad().defined()) continue;
    const at::Tensor g = p.grad().to(at::kFloat);
    const at::Tensor sq = (g * g).sum();
    sum_sq = sum_sq.defined() ? sum_sq + sq : sq;
  }
  if (!sum_sq.defined()) return 0.0;
  const double norm = std::sqrt(sum_sq.item<double>()) / loss_scale;  // one host sync per step
  if (max_norm <= 0.0 || !std::isfinite(norm)) return norm;
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0)
    for (const at::Tensor& p : params)
      if (p.grad().defined()) p.grad().mul_(factor);
  return norm;
}

}  // namespace zplan::rt

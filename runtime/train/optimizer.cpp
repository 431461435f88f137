// optimizer.cpp: MixedAdamW and LossScaler (see optimizer.h for the recipes).
#include "runtime/train/optimizer.h"

#include <cmath>

namespace zplan::rt {

bool LossScaler::update(bool found_inf) {
  if (!enabled_) return true;
  if (found_inf) {
    scale_ *= 0.5;
    good_steps_ = 0;
    return false;
  }
  if (++good_steps_ >= growth_interval_) {
    scale_ *= 2.0;
    good_steps_ = 0;
  }
  return true;
}

MixedAdamW::MixedAdamW(std::vector<at::Tensor> params, bool use_master, bool loss_scaling,
                       AdamWConfig cfg)
    : params_(std::move(params)), use_master_(use_master), cfg_(cfg), scaler_(loss_scaling) {
  at::NoGradGuard no_grad;
  for (const at::Tensor& p : params_) {
    const auto f32 = p.options().dtype(at::kFloat);
    if (use_master_) {
      master_.push_back(p.detach().to(at::kFloat, /*non_blocking=*/false, /*copy=*/true));
      master_bytes_ += static_cast<uint64_t>(p.numel()) * 4;
    }
    m_.push_back(at::zeros(p.sizes(), f32));
    v_.push_back(at::zeros(p.sizes(), f32));
    state_bytes_ += static_cast<uint64_t>(p.numel()) * 8;
  }
  if (!params_.empty())
    step_tensor_ = at::zeros({}, params_[0].options().dtype(at::kFloat).requires_grad(false));
}

void MixedAdamW::update_one(at::Tensor& target, const at::Tensor& grad32, at::Tensor& m,
                            at::Tensor& v) {
#if ZPLAN_HAVE_FUSED_ADAMW
  if (target.is_cuda()) {
    at::_fused_adamw_({target}, {grad32}, {m}, {v}, {}, {step_tensor_}, cfg_.lr, cfg_.beta1,
                      cfg_.beta2, cfg_.weight_decay, cfg_.eps, /*amsgrad=*/false,
                      /*maximize=*/false);
    return;
  }
#endif
  // torch.optim.AdamW (single-tensor path): decoupled decay, bias-corrected moments.
  const double t = static_cast<double>(step_);
  const double bc1 = 1.0 - std::pow(cfg_.beta1, t);
  const double bc2 = 1.0 - std::pow(cfg_.beta2, t);
  target.mul_(1.0 - cfg_.lr * cfg_.weight_decay);
  m.mul_(cfg_.beta1).add_(grad32, 1.0 - cfg_.beta1);
  v.mul_(cfg_.beta2).addcmul_(grad32, grad32, 1.0 - cfg_.beta2);
  const at::Tensor denom = (v.sqrt() / std::sqrt(bc2)).add_(cfg_.eps);
  target.addcdiv_(m, denom, -cfg_.lr / bc1);
}

bool MixedAdamW::step() {
  at::NoGradGuard no_grad;
  const double inv_scale = 1.0 / scaler_.scale();
  if (scaler_.enabled()) {
    // One pass to find overflow before touching any weight; one host sync at the end.
    at::Tensor all_finite;
    for (const at::Tensor& p : params_) {
      if (!p.grad().defined()) continue;
      at::Tensor ok = at::isfinite(p.grad().to(at::kFloat)).all();
      all_finite = all_finite.defined() ? at::logical_and(all_finite, ok) : ok;
    }
    bool found_inf = all_finite.defined() && !all_finite.item<bool>();
    if (any_overflow_) found_inf = any_overflow_(found_inf);
    if (!scaler_.update(found_inf)) {
      zero_grad();
      return false;
    }
  }
  ++step_;
  if (step_tensor_.defined()) step_tensor_.fill_(static_cast<double>(step_));
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    // grad.to(float32): a new fp32 tensor for 16-bit grads, the grad itself for fp32 ones.
    at::Tensor g32 = p.grad().to(at::kFloat);
    if (scaler_.enabled()) g32 = g32.is_same(p.grad()) ? g32 * inv_scale : g32.mul_(inv_scale);
    if (use_master_) {
      update_one(master_[i], g32, m_[i], v_[i]);
      p.copy_(master_[i]);  // write the updated master back in the param dtype
    } else {
      at::Tensor target = p.detach();
      update_one(target, g32, m_[i], v_[i]);
    }
  }
  return true;
}

void MixedAdamW::zero_grad() {
  for (at::Tensor& p : params_) p.mutable_grad() = at::Tensor();
}

std::vector<std::pair<std::string, at::Tensor>> MixedAdamW::state_tensors() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (size_t i = 0; i < master_.size(); ++i) out.emplace_back("master." + std::to_string(i), master_[i]);
  for (size_t i = 0; i < m_.size(); ++i) out.emplace_back("exp_avg." + std::to_string(i), m_[i]);
  for (size_t i = 0; i < v_.size(); ++i) out.emplace_back("exp_avg_sq." + std::to_string(i), v_[i]);
  return out;
}

void MixedAdamW::restore_counters(int64_t steps_taken, double loss_scale, int good_steps) {
  step_ = steps_taken;
  if (step_tensor_.defined()) step_tensor_.fill_(static_cast<double>(step_));
  if (scaler_.enabled()) scaler_.restore(loss_scale, good_steps);
}

}  // namespace zplan::rt

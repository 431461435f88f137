// optimizer.cpp: MixedAdamW and LossScaler (see optimizer.h for the recipes).
#include "runtime/train/optimizer.h"

#include <cmath>

#include "runtime/kernels/kernels.h"
#if ZPLAN_HAVE_RUNTIME_KERNELS
#include <c10/cuda/CUDAStream.h>
#endif

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

namespace {
bool kernel_takes(const at::Tensor& p) {
  return ZPLAN_HAVE_RUNTIME_KERNELS && p.is_cuda() && p.is_contiguous() &&
         (p.scalar_type() == at::kBFloat16 || p.scalar_type() == at::kHalf);
}
}  // namespace

MixedAdamW::MixedAdamW(std::vector<at::Tensor> params, bool use_master, bool loss_scaling,
                       AdamWConfig cfg, bool fused_master)
    : params_(std::move(params)), use_master_(use_master), cfg_(cfg), scaler_(loss_scaling) {
  at::NoGradGuard no_grad;
  fused_master_ = fused_master && use_master_ && !params_.empty();
  for (const at::Tensor& p : params_) fused_master_ = fused_master_ && kernel_takes(p);
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

// zplan's one-pass kernel: master, m, v and the 16-bit param from the 16-bit gradient, with
// torch's AdamW scalars (bias corrections from the step count, in double on the host).
void MixedAdamW::update_fused_master(size_t i, double grad_scale) {
#if ZPLAN_HAVE_RUNTIME_KERNELS
  at::Tensor& p = params_[i];
  const at::Tensor grad = p.grad().is_contiguous() ? p.grad() : p.grad().contiguous();
  TORCH_CHECK(grad.scalar_type() == p.scalar_type(), "fused-master AdamW: gradient and param dtypes differ");
  const double t = static_cast<double>(step_);
  kernels::AdamWScalars s;
  s.lr_times_weight_decay = static_cast<float>(cfg_.lr * cfg_.weight_decay);
  s.beta1 = static_cast<float>(cfg_.beta1);
  s.beta2 = static_cast<float>(cfg_.beta2);
  s.eps = static_cast<float>(cfg_.eps);
  s.step_size = static_cast<float>(cfg_.lr / (1.0 - std::pow(cfg_.beta1, t)));
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(cfg_.beta2, t)));
  s.grad_scale = static_cast<float>(grad_scale);
  const auto type = p.scalar_type() == at::kBFloat16 ? kernels::Half16::bf16 : kernels::Half16::fp16;
  const char* err = kernels::mixed_adamw_step(master_[i].data_ptr<float>(), grad.data_ptr(), m_[i].data_ptr<float>(),
                                              v_[i].data_ptr<float>(), p.data_ptr(), p.numel(), type, s,
                                              c10::cuda::getCurrentCUDAStream(p.device().index()).stream());
  TORCH_CHECK(err == nullptr, "fused-master AdamW kernel: ", err ? err : "");
#else
  (void)i;
  (void)grad_scale;
  TORCH_CHECK(false, "fused-master AdamW: this build has no CUDA kernels");
#endif
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
    // One pass to find overflow before touching any weight; one host sync at the end. A gradient
    // holds an inf or a nan exactly when its fp32 sum is not finite (inf - inf is nan), so each
    // check is one reduction to a scalar: no [n] temporaries (at::isfinite on an fp32 copy took
    // 11 bytes per element of the largest gradient; docs/runtime.md). A sum of finite fp32
    // gradients that itself overflows would skip one step and halve the scale, as an overflow does.
    at::Tensor all_finite;
    for (const at::Tensor& p : params_) {
      if (!p.grad().defined()) continue;
      at::Tensor ok = at::isfinite(p.grad().sum(at::kFloat));
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
    if (fused_master_) {
      update_fused_master(i, scaler_.enabled() ? inv_scale : 1.0);
      continue;
    }
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

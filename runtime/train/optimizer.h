// optimizer.h: AdamW for the runtime's precision recipes, with DeepSpeed-style state placement:
//   fp32        : params, grads, m, v in fp32; the update writes the params directly.
//   bf16 / fp16 : 16-bit params and grads; fp32 master weights, m and v live in the optimizer.
//                 On a GPU build with zplan's kernels (runtime/kernels/mixed_adamw.cu) one pass per
//                 tensor reads the 16-bit gradient and writes master, m, v and the 16-bit param: no
//                 temporary ("fused-master"). Otherwise ("upcast") each step casts ONE gradient at a
//                 time to fp32 (the only optimizer temporary beyond AdamW's own), updates the master
//                 copy and writes it back to the param.
//   fp16        : plus dynamic loss scaling (torch.cuda.amp.GradScaler semantics).
// States are allocated eagerly in the constructor (as DeepSpeed does at engine init), so
// after_init already holds every model state. On libtorch 2.x with CUDA tensors the update is
// at::_fused_adamw_; otherwise a hand-written AdamW with the same maths.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/torch_compat.h"

namespace zplan::rt {

struct AdamWConfig {
  double lr = 1e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

// Dynamic loss scale: start at 2^16, halve on overflow (and skip the step), double after
// `growth_interval` clean steps (torch GradScaler defaults).
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double init_scale = 65536.0, int growth_interval = 2000)
      : enabled_(enabled), scale_(enabled ? init_scale : 1.0), growth_interval_(growth_interval) {}
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  // Records the outcome of a step; returns false when the step must be skipped.
  bool update(bool found_inf);
  int good_steps() const { return good_steps_; }
  void restore(double scale, int good_steps) { scale_ = scale; good_steps_ = good_steps; }  // checkpoints

 private:
  bool enabled_;
  double scale_;
  int growth_interval_;
  int good_steps_ = 0;
};

class MixedAdamW {
 public:
  // params: the model's leaf tensors. use_master: keep fp32 masters (bf16/fp16 recipes).
  // loss_scaling: fp16 dynamic loss scaling. fused_master: use the one-pass kernel where it was
  // built and every param is a contiguous 16-bit CUDA tensor (fused_master() tells).
  MixedAdamW(std::vector<at::Tensor> params, bool use_master, bool loss_scaling, AdamWConfig cfg,
             bool fused_master = true);
  bool fused_master() const { return fused_master_; }
  // Unscales, checks for inf/nan (fp16), updates. Returns false when the step was skipped.
  bool step();
  // Drops the gradients (set_to_none, torch's default), which frees their memory.
  void zero_grad();
  // With sharded gradients each rank sees only its chunks: `any` tells whether any rank found
  // an overflow, so that all ranks skip (or take) the same steps.
  void set_overflow_agreement(std::function<bool(bool)> any) { any_overflow_ = std::move(any); }
  double loss_scale() const { return scaler_.scale(); }
  const LossScaler& scaler() const { return scaler_; }
  uint64_t master_bytes() const { return master_bytes_; }
  uint64_t state_bytes() const { return state_bytes_; }
  int64_t steps_taken() const { return step_; }
  // Learning-rate schedule and checkpoints (runtime/train/schedule.h, checkpoint.h).
  void set_lr(double lr) { cfg_.lr = lr; }
  double lr() const { return cfg_.lr; }
  // The fp32 states by name ("master.<i>", "exp_avg.<i>", "exp_avg_sq.<i>", i = param index);
  // the tensors alias the optimizer's, so copying into them restores a checkpoint.
  std::vector<std::pair<std::string, at::Tensor>> state_tensors() const;
  void restore_counters(int64_t steps_taken, double loss_scale, int good_steps);

 private:
  void update_one(at::Tensor& target, const at::Tensor& grad32, at::Tensor& m, at::Tensor& v);
  void update_fused_master(size_t i, double grad_scale);

  std::vector<at::Tensor> params_;
  std::vector<at::Tensor> master_;  // fp32 copies (empty without masters)
  std::vector<at::Tensor> m_, v_;   // fp32
  at::Tensor step_tensor_;          // fp32 scalar on the device (fused kernel's state_steps)
  bool use_master_;
  bool fused_master_ = false;
  AdamWConfig cfg_;
  LossScaler scaler_;
  std::function<bool(bool)> any_overflow_;
  int64_t step_ = 0;
  uint64_t master_bytes_ = 0;
  uint64_t state_bytes_ = 0;
};

}  // namespace zplan::rt

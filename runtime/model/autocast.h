// autocast.h: the amp-bf16 / amp-fp16 recipes' `with torch.autocast(device, dtype):` region. The
// parameters stay fp32; inside the region the ops on autocast's list (linear, matmul, addmm, SDPA,
// ...) cast their fp32 inputs to the 16-bit dtype, and casts of leaf weights are cached until the
// outermost region ends (the copies the planner counts as autocast.weight_casts). The trainer
// opens one around forward + loss, as the HF Trainer does; a checkpointed layer reopens it with
// the forward's dtype for its recompute, as torch.utils.checkpoint does.
#pragma once

#include "runtime/torch_compat.h"

namespace zplan::rt {

class AutocastGuard {
 public:
  // dtype at::ScalarType::Undefined: leaves autocast as it is (fp32/bf16/fp16 recipes).
  AutocastGuard(at::DeviceType device, at::ScalarType dtype) : device_(device), active_(dtype != at::ScalarType::Undefined) {
    if (!active_) return;
    was_enabled_ = compat::autocast_enabled(device);
    was_dtype_ = compat::autocast_dtype(device);
    compat::set_autocast(device, true, dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();  // the cached weight casts
    compat::set_autocast(device_, was_enabled_, was_dtype_);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

  // The dtype autocast casts to on `device` now, or Undefined when it is off (recorded by
  // checkpointed layers to replay their forward under the same state).
  static at::ScalarType current(at::DeviceType device) {
    return compat::autocast_enabled(device) ? compat::autocast_dtype(device) : at::ScalarType::Undefined;
  }

 private:
  at::DeviceType device_;
  bool active_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::ScalarType::Undefined;
};

}  // namespace zplan::rt

// torch DistributedDataParallel on several GPUs: the plain loop plus DDP's gradient buckets.
//
//   buffer / state           | size                          | lives
//   -------------------------+-------------------------------+-----------------------------------
//   gradient buckets         | every gradient, grad dtype    | from wrapping the model
//   rebuilt buckets          | the same                      | 2nd iteration's forward to its backward end
//                            |                               | (both sets alive), then replace the first
//   fp32 masters             | not kept (as modelled: DDP runs the recipe's params directly)
//   .grad, AdamW state       | as the plain loop             |
#include "planner/framework/plain_policy.h"

namespace zplan {
namespace {

class DdpPolicy : public PlainPolicy {
 public:
  using PlainPolicy::PlainPolicy;
  static ModelStateHomes state_homes() {
    ModelStateHomes h = PlainPolicy::state_homes();
    h.master_params.created = CreatedAt::never;
    return h;
  }

  void init() override {
    // DDP allocates its gradient buckets (a copy of every gradient) when the model is wrapped.
    buckets_ = st_.t.alloc(Category::comm_buffers, "DDP gradient buckets", "", bucket_bytes());
  }
  void before_forward(int step) override {
    if (buckets_ >= 0 && step == 2 && rebuilt_ < 0) {
      // DDP rebuilds its buckets in the second iteration: the new set exists next to the old one
      // until that iteration's backward has finished.
      rebuilt_ = st_.t.alloc(Category::comm_buffers, "DDP rebuilt gradient buckets", "", bucket_bytes());
    }
  }
  void after_backward() override {
    if (rebuilt_ >= 0 && buckets_ >= 0) {
      st_.t.free(buckets_);
      buckets_ = rebuilt_;
    }
  }

 private:
  uint64_t bucket_bytes() const { return static_cast<uint64_t>(st_.total_params) * st_.recipe.grad_bytes; }
  int buckets_ = -1, rebuilt_ = -1;
};

}  // namespace

std::unique_ptr<FrameworkPolicy> make_ddp_policy(StepState& st) {
  return std::make_unique<DdpPolicy>(st, DdpPolicy::state_homes());
}

}  // namespace zplan

// Framework policies: the one step skeleton (planner/memory/step_simulation.cpp: init, forward,
// backward, optimizer step, zero_grad) calls these hooks at fixed points; each framework answers
// "what is allocated here, on which device, divided by what" in its own small file:
//
//   plain_policy.cpp      Hugging Face / plain PyTorch loop (torch AdamW, autograd .grad)
//   runtime_policy.cpp    zplan's own single-GPU runtime (docs/runtime.md)
//   ddp_policy.cpp        torch DistributedDataParallel (gradient buckets)
//   deepspeed_policy.cpp  DeepSpeed ZeRO stages 0-3 (flat partitions, reduce buckets, ZeRO-3 gathers)
//   fsdp2_policy.cpp      torch fully_shard (per-module all-gather, fp32 reduce-scatter)
//
// Hooks are called in this order per optimizer step: before_forward, then per block
// begin_layer/end_layer (forward, last block first in backward), begin_head/end_head around the
// lm_head, begin_backward, gradient_ready per parameter tensor, after_backward, optimizer_step.
// The skeleton allocates what every framework shares (weights at init, activations, logits, the
// loss path, autocast casts) and frees the gradients (zero_grad) where zero_grad_at_step_end says.
#pragma once
#include <memory>

#include "planner/framework/sharding_policy.h"
#include "planner/framework/step_state.h"

namespace zplan {

enum class Pass { forward, backward };

class FrameworkPolicy {
 public:
  FrameworkPolicy(StepState& st, const ModelStateHomes& homes) : st_(st), homes_(homes) {}
  virtual ~FrameworkPolicy() = default;

  const ModelStateHomes& homes() const { return homes_; }

  // Bytes of parameter tensor `p` resident on the GPU between uses.
  virtual uint64_t resident_param_bytes(const ParamTensor& p) const {
    return static_cast<uint64_t>(p.elements) * st_.recipe.param_bytes;
  }
  virtual void init() {}                        // after the weights: masters, states, buffers
  virtual void before_forward(int step) { (void)step; }  // after the inputs, before block 0
  virtual void begin_layer(int64_t layer, Pass pass) { (void)layer; (void)pass; }  // before its activations
  virtual void end_layer(int64_t layer, Pass pass) { (void)layer; (void)pass; }    // after they are freed
  virtual void begin_head(Pass pass) { (void)pass; }  // around the final norm / lm_head
  virtual void end_head(Pass pass) { (void)pass; }
  virtual void begin_backward() {}              // before the loss gradient
  virtual void gradient_ready(size_t index) { st_.autograd_gradient(index); }
  virtual void after_backward() {}              // after the embeddings' gradients
  virtual void optimizer_step(int step) = 0;    // allocates and frees its temporaries
  // Does the loop keep `outputs` (and the logits) until the next forward returns?
  virtual bool keeps_outputs() const { return st_.tr.hold_outputs; }
  // zero_grad in a step_end phase of its own (zplan's runtime) rather than inside the optimizer phase.
  virtual bool zero_grad_at_step_end() const { return false; }

 protected:
  StepState& st_;
  const ModelStateHomes homes_;
};

// Communicators a framework creates besides the data-parallel one; overheads.cpp sizes them
// (outside the caching allocator).
struct FrameworkCommunicators {
  bool nccl_on_one_gpu = false;            // torch.distributed with NCCL even on a single GPU
  bool parameter_gather_communicator = false;  // a stream and communicator of its own for gathers
  bool cpu_optimizer_modules = false;      // DeepSpeedCPUAdam's extension loaded (optimizer offload)
};
FrameworkCommunicators framework_communicators(const ExecContext& c);
FrameworkCommunicators deepspeed_communicators(int zero_stage, bool offload_optimizer);

// The policy of the framework `st.c` runs (make_exec_context maps plain + ZeRO/offload to DeepSpeed).
std::unique_ptr<FrameworkPolicy> make_framework_policy(StepState& st);

// Factories, one per policy file.
std::unique_ptr<FrameworkPolicy> make_plain_policy(StepState& st);
std::unique_ptr<FrameworkPolicy> make_runtime_policy(StepState& st);
std::unique_ptr<FrameworkPolicy> make_ddp_policy(StepState& st);
std::unique_ptr<FrameworkPolicy> make_deepspeed_policy(StepState& st);
std::unique_ptr<FrameworkPolicy> make_fsdp2_policy(StepState& st);

}  // namespace zplan

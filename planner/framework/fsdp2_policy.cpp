// FSDP2 (torch.distributed.fsdp.fully_shard, measured in tests/regression/measured/hf_dist), one
// FSDP module per block plus the root (embeddings, final norm, lm_head). Per rank, N = DP ranks:
//
//   buffer / state              | size                               | lives
//   ----------------------------+------------------------------------+-------------------------------
//   parameter shards            | psi/N (host with offload_params)   | the run
//   all-gather input            | one module / N, compute dtype      | while its all-gather is issued
//   all-gather output (flat)    | one module, compute dtype          | until the next module's copy-out
//   unsharded params            | one module, compute dtype          | forward (reshard_after_forward,
//                               |                                    | ZeRO-3 style) or to its backward
//   prefetched all-gather       | the next module                    | while this module computes
//   unsharded 16-bit gradients  | one module                         | until its reduce-scatter
//   reduce-scatter input (fp32) | one module                         | until the next post-backward
//   reduce-scatter output       | one module / N, fp32               | the collective
//   fp32 gradient shards        | psi/N per tensor                   | backward until zero_grad
//   AdamW exp_avg/exp_avg_sq    | psi/N                              | from the first step
// The root is unsharded at each forward and kept through backward.
#include "planner/framework/framework_policy.h"

#include <map>

namespace zplan {
namespace {

// FSDP2 runs all-gathers and reduce-scatters on streams of their own (allocator pools of their own).
constexpr int kAllGatherStream = 1;
constexpr int kReduceScatterStream = 2;

class Fsdp2Policy : public FrameworkPolicy {
 public:
  explicit Fsdp2Policy(StepState& st) : FrameworkPolicy(st, state_homes(st)), reshard_after_forward_(st.s.zero_stage >= 3) {}

  static ModelStateHomes state_homes(const StepState& st) {
    ModelStateHomes h;
    for (StateHome* s : {&h.master_params, &h.working_params, &h.gradient_accumulator, &h.optimizer_states}) {
      s->partitioned = true;
      s->ranks = st.shards;
    }
    h.master_params.created = CreatedAt::never;  // the shards are what the optimizer steps on
    if (st.s.offload_params) h.working_params.device = StateDevice::host;
    h.gradient_accumulator.created = CreatedAt::each_step;
    h.optimizer_states.created = CreatedAt::first_step;
    h.gradients_reduce_scattered = true;
    // reshard_after_forward gathers each module for forward and again for backward; without it
    // once per micro-step (neither ZeRO pattern; the step-time model reads the ZeRO rows).
    h.params_gathered_per_micro_step = st.s.zero_stage >= 3;
    return h;
  }

  uint64_t resident_param_bytes(const ParamTensor& p) const override {
    if (!homes_.working_params.on_gpu()) return 0;
    return static_cast<uint64_t>(homes_.working_params.elements_per_rank(p.elements)) * st_.recipe.param_bytes;
  }

  void before_forward(int step) override {
    (void)step;
    root_ = unshard(-1);  // the root is not resharded after forward
    kept_.assign(static_cast<size_t>(st_.m.layers), -1);
  }

  void begin_layer(int64_t layer, Pass pass) override {
    if (pass == Pass::forward) {
      unsharded_ = unshard(layer);
      prefetch_ = prefetch(layer + 1);
    } else {
      unsharded_ = reshard_after_forward_ ? unshard(layer) : kept_[static_cast<size_t>(layer)];
      prefetch_ = prefetch(layer - 1);
    }
  }

  void end_layer(int64_t layer, Pass pass) override {
    if (pass == Pass::forward) {
      st_.free_handle(prefetch_);
      // reshard_after_forward=True frees the layer now; False keeps it for backward.
      if (reshard_after_forward_) st_.free_handle(unsharded_);
      else kept_[static_cast<size_t>(layer)] = unsharded_;
      unsharded_ = -1;
      return;
    }
    reduce_scatter(layer);
    st_.free_handle(prefetch_);
    st_.free_handle(unsharded_);
  }

  void gradient_ready(size_t index) override {
    // The unsharded 16-bit gradient waits for its module's reduce-scatter.
    const ParamTensor& p = st_.params[index];
    pending_grads_[p.layer].push_back(st_.t.alloc(Category::working, p.name, ".grad_unsharded",
                                                  static_cast<uint64_t>(p.elements) * st_.c.compute_bytes));
  }

  void after_backward() override {
    reduce_scatter(-1);  // the root's post-backward, after the embedding's gradient
    st_.free_handle(root_);
    st_.free_handle(previous_rs_input_);  // released by the final post-backward callback
  }

  void optimizer_step(int step) override {
    // Sharded AdamW state, created lazily; the fp32 gradient shards need no upcast.
    if (step == 1 && homes_.optimizer_states.created == CreatedAt::first_step)
      st_.alloc_flat_optimizer_states("adam", homes_.optimizer_states.elements_per_rank(st_.total_params));
  }

 private:
  // Unshards `layer` (-1: the root module): the all-gather input (the local 16-bit shard copy)
  // and the flat output exist while the result is copied out into per-parameter 16-bit tensors,
  // which stay until the module is resharded. FSDP2 keeps each all-gather's flat output until the
  // next module's copy-out has run (its AllGatherState), so that the CPU cannot run ahead of the copy.
  int unshard(int64_t layer) {
    const uint64_t full = st_.layer_bytes(layer, st_.c.compute_bytes);
    if (full == 0) return -1;
    Timeline& t = st_.t;
    const int in = t.alloc(Category::comm_buffers, "all-gather input", "", full / static_cast<uint64_t>(st_.shards), 1, kAllGatherStream);
    const int flat = t.alloc(Category::comm_buffers, "all-gather output", "", full, 1, kAllGatherStream);
    const int out = t.alloc(Category::comm_buffers, "unsharded params", "", full);
    t.free(in);
    st_.free_handle(previous_gather_);
    previous_gather_ = flat;
    return out;
  }
  // The next module's all-gather in flight while this one computes (implicit prefetch).
  int prefetch(int64_t layer) {
    if (layer < 0 || layer >= st_.m.layers) return -1;
    return st_.t.alloc(Category::comm_buffers, "prefetched all-gather", "", st_.layer_bytes(layer, st_.c.compute_bytes), 1,
                       kAllGatherStream);
  }
  // After a module's backward its unsharded 16-bit gradients are upcast into the fp32
  // reduce-scatter input, scattered, and accumulated into the fp32 gradient shards. The input
  // stays alive until the next module's post-backward (FSDP2's ReduceScatterState: the collective
  // may still read it on its own stream).
  void reduce_scatter(int64_t layer) {
    const int64_t elements = st_.layer_bytes(layer, 1);
    Timeline& t = st_.t;
    st_.free_handle(previous_rs_input_);
    const int in = t.alloc(Category::comm_buffers, "reduce-scatter input (fp32)", "", static_cast<uint64_t>(elements) * kFp32Bytes);
    std::vector<int>& pending = pending_grads_[layer];
    t.free_all(pending);
    pending.clear();
    const StateHome& grads = homes_.gradient_accumulator;
    const int out = t.alloc(Category::comm_buffers, "reduce-scatter output", "",
                            static_cast<uint64_t>(grads.elements_per_rank(elements)) * kFp32Bytes, 1, kReduceScatterStream);
    for (size_t i = 0; i < st_.params.size(); ++i)
      if (st_.params[i].layer == layer && st_.grad_handles[i] < 0)
        st_.grad_handles[i] = t.alloc(Category::grads, st_.params[i].name, ".grad_shard",
                                      static_cast<uint64_t>(grads.elements_per_rank(st_.params[i].elements)) * kFp32Bytes);
    previous_rs_input_ = in;
    t.free(out);
  }

  const bool reshard_after_forward_;
  int root_ = -1, unsharded_ = -1, prefetch_ = -1, previous_gather_ = -1, previous_rs_input_ = -1;
  std::vector<int> kept_;
  std::map<int64_t, std::vector<int>> pending_grads_;  // per module (-1: root)
};

}  // namespace

std::unique_ptr<FrameworkPolicy> make_fsdp2_policy(StepState& st) { return std::make_unique<Fsdp2Policy>(st); }

}  // namespace zplan

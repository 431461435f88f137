// DeepSpeed ZeRO, 0.19 (runtime/zero/stage_1_and_2.py, stage3.py, partition_parameters.py,
// bf16_optimizer.py, fp16/unfused_optimizer.py). Buffers per rank, each sized by the config field
// named beside it (N = DP x SP ranks, psi = parameters):
//
//   buffer / state                 | size                                  | stage | lives
//   -------------------------------+---------------------------------------+-------+--------------------------
//   16-bit flat parameter groups   | psi x param bytes (init copy)         | 1, 2  | a moment at init (#1445)
//   parameters                     | psi/N; < param_persistence_threshold  | 3     | the run (host with
//                                  | elements stay whole                   |       | offload_param)
//   fp32 master partition          | psi/N (stage 0: psi)                  | all   | from init (host w/ offload)
//   fp32 zero gradient             | psi/N, stage 3: <= sub_group_size     | all   | init only
//   Adam exp_avg / exp_avg_sq      | psi/N                                 | all   | init (stage 0) / first step
//   16-bit gradient partition      | psi/N                                 | 1-3   | stage 3: the run; 1/2: first
//                                  |                                       |       | gradient to the step (host w/ offload)
//   reduce buckets                 | reduce_bucket_size elements, x2 with  | 1, 2  | first gradient to backward end
//                                  | overlap_comm                          |       |
//   flat reduce bucket             | reduce_bucket_size elements           | 3     | the run (from init)
//   gathered params + prefetch     | one layer + stage3_prefetch_bucket_size| 3    | around a layer's forward and
//                                  | (all-gather stream with overlap_comm; |       | backward; from step 2 the
//                                  | none on one rank with GPU partitions) |       | part reused within
//                                  |                                       |       | max_reuse_distance stays
//                                  |                                       |       | from forward to backward
//   temp_grad_buffer_for_gpu_offload| largest parameter x 16-bit bytes     | 1, 2  | the run (offload_optimizer)
//   fp32 gradient partition        | psi/N, stage 3: <= sub_group_size     | 1-3   | the step (1/2: + a flattened
//                                  |                                       |       | 16-bit copy)
//   fp32 .grad of each master      | psi (FP16_UnfusedOptimizer)           | 0     | the step
//   NCCL communicator (outside the | also on one GPU; stage 3: a second one for the coordinator's
//   allocator, overheads.cpp)      | gathers (deepspeed_communicators)
#include "planner/framework/framework_policy.h"

#include <algorithm>

#include "planner/memory/deepspeed_gpu_buffers.h"
#include "planner/memory/term_scales.h"

namespace zplan {
namespace {

// With overlap_comm the ZeRO-3 coordinator all-gathers inside its own stream
// (partitioned_param_coordinator.py __allgather_stream): the gathered buffers come from that
// stream's pool of the caching allocator, which the compute stream's frees cannot feed.
constexpr int kAllGatherStream = 1;

class DeepSpeedPolicy : public FrameworkPolicy {
 public:
  DeepSpeedPolicy(StepState& st)
      : FrameworkPolicy(st, zero_state_homes(st.s.zero_stage, st.s.offload_optimizer, st.s.offload_params, st.shards)),
        stage_(st.s.zero_stage), overlap_comm_(st.tr.overlap_comm < 0 ? stage_ == 3 : st.tr.overlap_comm == 1),
        retention_(zero3_reuse_retention(st.params, st.m.layers, st.m.tied_embeddings, st.tr.param_persistence_threshold,
                                         st.tr.max_reuse_distance)) {}

  uint64_t resident_param_bytes(const ParamTensor& p) const override {
    const uint64_t whole = static_cast<uint64_t>(p.elements) * st_.recipe.param_bytes;
    if (!homes_.working_params.partitioned || persistent(p)) return whole;
    if (!homes_.working_params.on_gpu()) return 0;
    return static_cast<uint64_t>(homes_.working_params.elements_per_rank(p.elements)) * st_.recipe.param_bytes;
  }

  void init() override {
    Timeline& t = st_.t;
    if (stages_1_2()) {
      // Stages 1/2 flatten each parameter group into one contiguous 16-bit buffer and re-point
      // the parameters into it: the copy exists next to the originals for a moment (#1445).
      const int flat = t.alloc(Category::working, "16-bit flat parameter groups (init copy)", "",
                               static_cast<uint64_t>(st_.total_params) * st_.recipe.param_bytes);
      t.free(flat);
    }
    if (st_.recipe.master_bytes > 0 && homes_.master_params.on_gpu())
      t.alloc(Category::master_weights, "fp32 master partition", "",
              static_cast<uint64_t>(homes_.master_params.elements_per_rank(st_.total_params)) * st_.recipe.master_bytes);
    if (homes_.optimizer_states.on_gpu()) {
      // initialize_optimizer_states puts a zero fp32 gradient on the partition (stage 3: of the
      // largest sub-group). Stage 0's FP16_UnfusedOptimizer then steps once, creating Adam
      // state at init; ZeRO stages 1-3 (0.19) leave it to the first step.
      const int zero_grad = t.alloc(Category::optimizer_temp, "fp32 zero gradient (state init)", "",
                                    static_cast<uint64_t>(step_group_elements()) * kFp32Bytes);
      if (homes_.optimizer_states.created == CreatedAt::init) alloc_optimizer_states();
      t.free(zero_grad);
    }
    // Stage 0 with 16-bit parameters and a client optimizer (the HF Trainer's) is
    // FP16_UnfusedOptimizer (engine.py _do_optimizer_sanity_check -> DDP_BFLOAT16/FP16): no
    // gradient buffer of its own; the 16-bit .grad tensors stay until zero_grad.
    // Stage 3 keeps its 16-bit gradient partition for the whole run; stages 1/2 create theirs
    // per step (at the first gradient). With the optimizer offloaded it lives in host memory.
    if (homes_.gradient_accumulator.created == CreatedAt::init && homes_.gradient_accumulator.on_gpu())
      t.alloc(Category::grads, "16-bit gradient partition", "", gradient_partition_bytes());
    // Stages 1/2 with the optimizer offloaded: temp_grad_buffer_for_gpu_offload, a 16-bit buffer of
    // the largest parameter on the GPU for the run (stage_1_and_2.py __init__), even though the
    // gradient partition itself lives in host memory.
    if (stages_1_2() && st_.s.offload_optimizer)
      t.alloc(Category::comm_buffers, "temp_grad_buffer_for_gpu_offload", "",
              zero12_offload_gpu_grad_buffer_bytes(model_tables(st_.m), st_.recipe.grad_bytes));
    // Stage 3 keeps one flat reduce bucket for the run, created with the optimizer (stage3.py
    // ipg_buckets' buffer, torch.empty(reduce_bucket_size) in __init__).
    if (stage_ >= 3) reduce_bucket_ = t.alloc(Category::comm_buffers, "reduce bucket", "", bucket_bytes());
  }

  void before_forward(int step) override {
    // The coordinator records the module trace in step 1; from step 2 on it is COMPLETE and
    // releases follow max_reuse_distance (deepspeed_gpu_buffers.h). A token embedding the trace
    // reuses within it (tied: the lm_head, after all blocks) stays gathered to backward's end.
    step_ = step;
    if (retaining() && retention_.embedding_elements > 0)
      embedding_kept_ = st_.t.alloc(Category::comm_buffers, "gathered params (kept for reuse)", "",
                                    static_cast<uint64_t>(retention_.embedding_elements) * st_.recipe.param_bytes, 1,
                                    gather_stream());
  }

  void begin_layer(int64_t layer, Pass pass) override { gather(layer, pass, &gathered_); }
  void end_layer(int64_t layer, Pass pass) override {
    release(&gathered_);
    // A block kept since its forward is released after its backward (no later use in the trace).
    if (pass == Pass::backward && layer >= 0 && static_cast<size_t>(layer) < kept_.size())
      st_.free_handle(kept_[static_cast<size_t>(layer)]);
  }
  // The lm_head's weight (wte when tied, gathered with the embedding in forward) around the head.
  void begin_head(Pass pass) override {
    if (pass == Pass::backward || !st_.m.tied_embeddings) gather(-1, pass, &head_gathered_);
  }
  void end_head(Pass pass) override {
    (void)pass;
    release(&head_gathered_);
  }

  void gradient_ready(size_t index) override {
    if (stages_1_2()) staged_gradient_arrives();
    if (stage_ == 0) {
      st_.autograd_gradient(index);
      return;
    }
    // DeepSpeed copies .grad into its reduce bucket and frees it.
    const ParamTensor& p = st_.params[index];
    const int h = st_.t.alloc(Category::working, p.name, ".grad", static_cast<uint64_t>(p.elements) * st_.recipe.grad_bytes);
    st_.t.free(h);
  }

  void after_backward() override {
    // The epilogue after backward releases the stage 1/2 buckets (_release_ipg_buffers).
    st_.t.free_all(staged_buckets_);
    staged_buckets_.clear();
    st_.free_handle(embedding_kept_);
  }

  void optimizer_step(int step) override {
    Timeline& t = st_.t;
    std::vector<int> temps;
    if (homes_.optimizer_states.on_gpu() && st_.recipe.fp32_grad_bytes > 0 && stage_ >= 1) {
      const int64_t n = step_group_elements();
      // Stages 1/2 flatten the partition's 16-bit gradients (a copy) before the fp32 upcast.
      if (stage_ <= 2)
        temps.push_back(t.alloc(Category::optimizer_temp, "flattened 16-bit gradient partition", "",
                                static_cast<uint64_t>(n) * st_.recipe.grad_bytes));
      temps.push_back(t.alloc(Category::optimizer_temp, "fp32 gradient partition", "", static_cast<uint64_t>(n) * kFp32Bytes));
      if (step == 1 && homes_.optimizer_states.created == CreatedAt::first_step) alloc_optimizer_states();
    }
    if (stage_ == 0 && st_.recipe.master_bytes > 0)
      // FP16_UnfusedOptimizer.step: every fp32 master gets .grad = its 16-bit .grad upcast, all
      // of them before the inner optimizer steps, all freed after (fp16/unfused_optimizer.py).
      for (const ParamTensor& p : st_.params)
        temps.push_back(t.alloc(Category::optimizer_temp, p.name, ".grad_fp32", static_cast<uint64_t>(p.elements) * kFp32Bytes));
    t.free_all(temps);
    st_.free_handle(staged_partition_);
  }

 private:
  bool stages_1_2() const { return stage_ == 1 || stage_ == 2; }
  bool persistent(const ParamTensor& p) const { return p.elements < st_.tr.param_persistence_threshold; }
  // Elements the optimizer steps on at once: the rank's partition (stage 3: one sub-group of it).
  int64_t step_group_elements() const {
    const int64_t n = homes_.optimizer_states.elements_per_rank(st_.total_params);
    return stage_ >= 3 ? std::min<int64_t>(n, st_.tr.sub_group_size) : n;
  }
  uint64_t gradient_partition_bytes() const {
    return static_cast<uint64_t>(homes_.gradient_accumulator.elements_per_rank(st_.total_params)) * st_.recipe.grad_bytes;
  }
  void alloc_optimizer_states() {
    st_.alloc_flat_optimizer_states("adam state", homes_.optimizer_states.elements_per_rank(st_.total_params));
  }
  // One gradient bucket: reduce_bucket_size elements of the gradient dtype (never more than the
  // model has). The test-only scale lets the mutation test perturb it.
  uint64_t bucket_bytes() const {
    const double b = static_cast<double>(std::min<int64_t>(st_.tr.reduce_bucket_elems, st_.total_params)) * st_.recipe.grad_bytes;
    return static_cast<uint64_t>(b * test_term_scales().deepspeed_buckets);
  }

  // Do gathers allocate? On one rank with the partitions on the GPU the coordinator takes
  // _no_gather_coalesced: param.data = ds_tensor.to(device), the partition itself, no new memory
  // (partition_parameters.py NoGatherCoalescedHandle). Offloaded partitions are copied in.
  bool gathers_allocate() const {
    return homes_.working_params.partitioned && (st_.shards > 1 || !homes_.working_params.on_gpu());
  }
  bool retaining() const { return gathers_allocate() && step_ >= 2; }
  int gather_stream() const { return overlap_comm_ ? kAllGatherStream : 0; }

  // Stage 3: the layer's 16-bit parameters gathered, plus a prefetch bucket's worth of the next
  // layer, around its forward and its backward. From step 2 on, the part of a block that the
  // trace reuses within max_reuse_distance stays gathered from its forward to its backward, and the
  // kept embedding is not gathered again at the head.
  void gather(int64_t layer, Pass pass, std::vector<int>* handles) {
    if (!gathers_allocate()) return;
    const int stream = gather_stream();
    const int bytes = st_.recipe.param_bytes;
    uint64_t gathered = st_.layer_bytes(layer, bytes);
    if (retaining() && layer < 0) gathered -= static_cast<uint64_t>(retention_.embedding_elements) * bytes;
    if (retaining() && layer >= 0 && static_cast<size_t>(layer) < retention_.block_elements.size()) {
      const uint64_t kept = static_cast<uint64_t>(retention_.block_elements[static_cast<size_t>(layer)]) * bytes;
      kept_.resize(retention_.block_elements.size(), -1);
      int& h = kept_[static_cast<size_t>(layer)];
      if (pass == Pass::forward && kept > 0 && h < 0)
        h = st_.t.alloc(Category::comm_buffers, "gathered params (kept for reuse)", "", kept, 1, stream);
      if (h >= 0) gathered -= kept;
    }
    if (gathered > 0) handles->push_back(st_.t.alloc(Category::comm_buffers, "gathered params", "", gathered, 1, stream));
    const uint64_t prefetch = std::min<uint64_t>(st_.layer_bytes(layer + 1, bytes),
                                                 static_cast<uint64_t>(st_.tr.prefetch_bucket_elems) * bytes);
    if (prefetch > 0) handles->push_back(st_.t.alloc(Category::comm_buffers, "prefetched params", "", prefetch, 1, stream));
  }
  void release(std::vector<int>* handles) {
    st_.t.free_all(*handles);
    handles->clear();
  }

  // Stages 1 and 2 (contiguous_gradients): the first gradient of a step creates the reduce
  // bucket(s) (setup_buckets: two with overlap_comm) and, at the first reduction, the 16-bit
  // gradient partition the rank owns (copy_grads_in_partition); the partition lives on as
  // averaged_gradients until the step.
  void staged_gradient_arrives() {
    if (!staged_buckets_.empty()) return;
    const int buckets = overlap_comm_ ? 2 : 1;
    for (int i = 0; i < buckets; ++i)
      staged_buckets_.push_back(st_.t.alloc(Category::comm_buffers, "reduce bucket", "", bucket_bytes()));
    if (homes_.gradient_accumulator.on_gpu())
      staged_partition_ = st_.t.alloc(Category::grads, "16-bit gradient partition", "", gradient_partition_bytes());
  }

  const int stage_;
  const bool overlap_comm_;
  const Zero3Retention retention_;
  int step_ = 0;
  std::vector<int> kept_;      // per block: gathered parameters kept from forward to backward
  int embedding_kept_ = -1;
  std::vector<int> gathered_, head_gathered_, staged_buckets_;
  int reduce_bucket_ = -1;
  int staged_partition_ = -1;  // stages 1/2: this step's 16-bit gradient partition
};

}  // namespace

// DeepSpeed initialises torch.distributed with NCCL and runs its collectives on one GPU too;
// ZeRO-3's parameter coordinator all-gathers on a stream and communicator of its own.
FrameworkCommunicators deepspeed_communicators(int zero_stage, bool offload_optimizer) {
  return {true, zero_stage >= 3, offload_optimizer};
}

std::unique_ptr<FrameworkPolicy> make_deepspeed_policy(StepState& st) { return std::make_unique<DeepSpeedPolicy>(st); }

}  // namespace zplan

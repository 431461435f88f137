// Builds the allocation timeline of a training step (see step_simulation.h).
//
// Framework semantics modelled (sources and measurements in docs/memory-model.md):
//  plain / Hugging Face loop: per-tensor params; .grad created by autograd as backward reaches each
//    parameter and freed by zero_grad(set_to_none=True); torch AdamW (fused) creates exp_avg and
//    exp_avg_sq lazily at the first step; the bf16/fp16 recipes keep fp32 master copies and
//    allocate fp32 gradients for the optimizer step (DeepSpeed's BF16 recipe done by hand); the
//    loop's `outputs` keeps the logits until the next forward returns.
//  zplan's runtime: the same model code; masters and Adam state at init, logits dropped once the
//    loss is read, one gradient upcast at a time in the step, gradients dropped at step_end.
//  DeepSpeed ZeRO (stage_1_and_2.py, stage3.py, bf16_optimizer.py): flat 16-bit and fp32 partitions,
//    optimizer state created at engine init, gradients copied into reduce buckets of
//    reduce_bucket_size elements (stage 2: two with overlap_comm; stage 3: one flat bucket) and a
//    contiguous partition buffer (stages 2/3, on the host with optimizer offload), ZeRO-3 gathering
//    one layer's parameters (plus a prefetch bucket) around its forward and backward, an fp32
//    gradient copy of the partition (stage 3: of one sub-group) at the step.
//  DDP: its gradient buckets from wrapping, rebuilt (two sets alive) in the second iteration.
//  FSDP2: fp32 shards, per-module 16-bit all-gather with copy-out and a prefetch, the root kept
//    unsharded through backward, fp32 reduce-scatter into gradient shards.
#include "planner/memory/step_simulation.h"

#include "planner/memory/term_scales.h"

#include <algorithm>
#include <array>
#include <map>

#include "planner/memory/activations.h"
#include "planner/memory/loss_path.h"
#include "planner/memory/params.h"
#include "planner/memory/precision_recipe.h"
#include "planner/memory/zero.h"

namespace zplan {
namespace {

constexpr int kFp32 = 4;
constexpr uint64_t kCublasWorkspaceBytes = 64ull << 20;
// FSDP2 runs all-gathers and reduce-scatters on streams of their own (allocator pools of their own).
constexpr int kAllGatherStream = 1;
constexpr int kReduceScatterStream = 2;

class StepBuilder {
 public:
  StepBuilder(const ModelSpec& m, const TrainingSpec& tr, const Strategy& s, const ExecContext& c,
              bool record_names)
      : m_(m), tr_(tr), s_(s), c_(c), recipe_(precision_recipe(s.precision)),
        params_(model_tables(m).tensors), shards_(std::max<int64_t>(1, c.world_size)), t_(record_names) {
    tokens_ = c.tokens_per_rank();
    layer_param_index_.assign(static_cast<size_t>(m.layers + 1), {});
    for (size_t i = 0; i < params_.size(); ++i) {
      const ParamTensor& p = params_[i];
      total_params_ += p.elements;
      layer_params_[p.layer] += p.elements;
      if (p.layer >= 0 && p.layer < m.layers) layer_param_index_[static_cast<size_t>(p.layer)].push_back(i);
    }
    grad_handles_.assign(params_.size(), -1);
    // Layers of one kind (dense or sparse MLP, global or sliding attention) save the same rows:
    // build each table once.
    for (int64_t i = 0; i < m.layers; ++i) {
      const size_t kind = block_kind(i);
      BlockActivations& b = blocks_[kind];
      if (!b.saved.empty()) continue;
      b = block_activations(m, i, c);
      // What a checkpointed forward of this kind leaves alive: autocast's cached weight casts
      // (until the autocast region ends), and briefly its largest intermediates.
      std::vector<TensorRow> others;
      for (const TensorRow& r : b.saved) (r.name.rfind("autocast", 0) == 0 ? ckpt_casts_[kind] : others).push_back(r);
      ckpt_transient_[kind] = largest_rows(others, 3);
    }
    checkpoint_rows_ = checkpointed_block_saved(m, c);
    // The stem: inputs and RoPE tables live through the step; the final norm and lm_head input
    // (and the lm_head's autocast cast) are made at the end of forward.
    for (const TensorRow& r : stem_activations(m, c).saved)
      (r.name.rfind("final_norm", 0) == 0 || r.name.rfind("lm_head", 0) == 0 || r.name.rfind("autocast", 0) == 0
           ? stem_head_ : stem_inputs_).push_back(r);
    deepspeed_ = c.framework == Framework::deepspeed;  // (make_exec_context maps plain + ZeRO to it)
    // zplan's own single-GPU runtime (docs/runtime.md): masters and Adam state at init, logits
    // dropped once the loss is read, the optimizer upcasts one gradient at a time.
    runtime_ = c.profile == Profile::zplan && c.framework == Framework::plain;
    fsdp_ = c.framework == Framework::fsdp2;
    overlap_comm_ = tr.overlap_comm < 0 ? s.zero_stage == 3 : tr.overlap_comm == 1;
  }

  Timeline build() {
    init();
    const int micro_steps = static_cast<int>(std::min<int64_t>(2, std::max<int64_t>(1, s_.grad_accumulation)));
    // Step 2 is the steady state: torch, FSDP2 and DeepSpeed's ZeRO stages create Adam state in
    // step 1, and every loop's cache layout of step 1 is what step 2 finds.
    const int steps = 2;
    for (int step = 1; step <= steps; ++step) {
      for (int micro = 0; micro < micro_steps; ++micro) {
        forward(step);
        backward(step);
      }
      optimizer(step);
    }
    return std::move(t_);
  }

 private:
  // ---------------- sizes ----------------
  bool sharded_params() const { return (deepspeed_ && s_.zero_stage >= 3) || fsdp_; }
  bool persistent(const ParamTensor& p) const {
    return deepspeed_ && s_.zero_stage >= 3 && p.elements < tr_.param_persistence_threshold;
  }
  uint64_t resident_param_bytes(const ParamTensor& p) const {
    if (!sharded_params()) return static_cast<uint64_t>(p.elements) * recipe_.param_bytes;
    if (persistent(p)) return static_cast<uint64_t>(p.elements) * recipe_.param_bytes;
    if (s_.offload_params) return 0;
    return static_cast<uint64_t>(shard_elements(p.elements, shards_)) * recipe_.param_bytes;
  }
  // 16-bit (or fp32) bytes of a layer's parameters when gathered.
  uint64_t gathered_bytes(int64_t layer) const {
    auto it = layer_params_.find(layer);
    const int gather_bytes = fsdp_ ? c_.compute_bytes : recipe_.param_bytes;
    return it == layer_params_.end() ? 0 : static_cast<uint64_t>(it->second) * gather_bytes;
  }
  int64_t optimizer_shard_elements() const {
    return s_.zero_stage >= 1 || fsdp_ ? shard_elements(total_params_, shards_) : total_params_;
  }
  bool grads_partitioned() const { return deepspeed_ && s_.zero_stage >= 2; }

  // ---------------- init ----------------
  void init() {
    t_.begin_phase(Phase::after_init, 0);
    // cuBLAS and cuBLASLt workspaces come from the caching allocator on first use (32 MiB each on
    // Hopper with PyTorch 2.x; measured 64 MiB together, docs/measurements/hf_raw).
    t_.alloc(Category::working, "cuBLAS workspaces", "", kCublasWorkspaceBytes);
    for (const ParamTensor& p : params_) t_.alloc(Category::weights, p.name, "", resident_param_bytes(p));
    if (deepspeed_) {
      if (s_.zero_stage == 1 || s_.zero_stage == 2) {
        // Stages 1/2 flatten each parameter group into one contiguous 16-bit buffer and re-point
        // the parameters into it: the copy exists next to the originals for a moment (#1445).
        const int flat = t_.alloc(Category::working, "16-bit flat parameter groups (init copy)", "",
                                  static_cast<uint64_t>(total_params_) * recipe_.param_bytes);
        t_.free(flat);
      }
      if (recipe_.master_bytes > 0 && !s_.offload_optimizer)
        t_.alloc(Category::master_weights, "fp32 master partition", "",
                 static_cast<uint64_t>(optimizer_shard_elements()) * recipe_.master_bytes);
      if (!s_.offload_optimizer) {
        // initialize_optimizer_states puts a zero fp32 gradient on the partition (stage 3: of the
        // largest sub-group). Stage 0's FP16_UnfusedOptimizer then steps once, creating Adam
        // state at init; ZeRO stages 1-3 (0.19) leave it to the first step (lazy_adam_state).
        int64_t n = optimizer_shard_elements();
        if (s_.zero_stage >= 3) n = std::min<int64_t>(n, tr_.sub_group_size);
        const int zero_grad = t_.alloc(Category::optimizer_temp, "fp32 zero gradient (state init)", "", static_cast<uint64_t>(n) * kFp32);
        if (!lazy_adam_state()) alloc_optimizer_states("adam state");
        t_.free(zero_grad);
      }
      // Stage 0 with 16-bit parameters and a client optimizer (the HF Trainer's) is
      // FP16_UnfusedOptimizer (engine.py _do_optimizer_sanity_check -> DDP_BFLOAT16/FP16): no
      // gradient buffer of its own; the 16-bit .grad tensors stay until zero_grad.
      // Stage 3 keeps its 16-bit gradient partition for the whole run; stages 1/2 create theirs
      // per step (staged_gradient_arrives). With the optimizer offloaded, DeepSpeed keeps the
      // gradient partitions in host memory (stage3.py places them on the optimizer's device).
      if (s_.zero_stage >= 3 && !s_.offload_optimizer)
        t_.alloc(Category::grads, "16-bit gradient partition", "",
                 static_cast<uint64_t>(shard_elements(total_params_, shards_)) * recipe_.grad_bytes);
    } else if (fsdp_) {
      // Optimizer state is lazy (first step); params are fp32 shards (allocated above).
    } else if (c_.framework == Framework::ddp && c_.world_size > 1) {
      // DDP allocates its gradient buckets (a copy of every gradient) when the model is wrapped.
      ddp_buckets_ = t_.alloc(Category::comm_buffers, "DDP gradient buckets", "",
                              static_cast<uint64_t>(total_params_) * recipe_.grad_bytes);
    } else {
      if (recipe_.master_bytes > 0)
        for (const ParamTensor& p : params_)
          t_.alloc(Category::master_weights, p.name, ".master", static_cast<uint64_t>(p.elements) * kFp32);
      if (runtime_) alloc_optimizer_states("adam");
    }
    t_.end_phase(Phase::after_init, 0);
  }

  bool lazy_adam_state() const { return deepspeed_ && s_.zero_stage >= 1; }

  void alloc_optimizer_states(const std::string& name) {
    const int state_bytes = recipe_.optimizer_bytes / 2;  // each of exp_avg, exp_avg_sq
    if (deepspeed_ || fsdp_) {
      const uint64_t b = static_cast<uint64_t>(optimizer_shard_elements()) * state_bytes;
      t_.alloc(Category::optimizer_states, name, ".exp_avg", b);
      t_.alloc(Category::optimizer_states, name, ".exp_avg_sq", b);
      return;
    }
    // torch AdamW: state per parameter tensor, fp32 for fp32/AMP params and for fp32 masters.
    for (const ParamTensor& p : params_) {
      t_.alloc(Category::optimizer_states, p.name, ".exp_avg", static_cast<uint64_t>(p.elements) * state_bytes);
      t_.alloc(Category::optimizer_states, p.name, ".exp_avg_sq", static_cast<uint64_t>(p.elements) * state_bytes);
    }
  }

  // ---------------- forward ----------------
  void alloc_rows(const std::vector<TensorRow>& rows, Category cat, std::vector<int>* handles) {
    for (const TensorRow& r : rows) {
      const uint64_t total = r.bytes(tokens_, c_.micro_batch);
      const int64_t n = std::max<int64_t>(1, r.count);
      handles->push_back(t_.alloc(cat, r.name, "", total / static_cast<uint64_t>(n), n));
    }
  }

  bool checkpointed(int64_t layer) const { return layer < s_.checkpointed_layers; }
  size_t block_kind(int64_t layer) const {
    return (m_.layer_is_sparse(layer) ? 1u : 0u) + (m_.layer_slides(layer, c_.seq_len) ? 2u : 0u);
  }
  const BlockActivations& block(int64_t layer) const { return blocks_[block_kind(layer)]; }

  // DeepSpeed ZeRO-3: the layer's 16-bit parameters gathered, plus a prefetch bucket's worth of
  // the next layer, around its forward and its backward.
  void gather_layer(int64_t layer, std::vector<int>* handles) {
    if (!(deepspeed_ && s_.zero_stage >= 3)) return;
    // With overlap_comm (stage 3's default) the coordinator all-gathers inside its own stream
    // (partitioned_param_coordinator.py __allgather_stream): the gathered buffers come from that
    // stream's pool of the caching allocator, which the compute stream's frees cannot feed.
    const int stream = overlap_comm_ ? kAllGatherStream : 0;
    handles->push_back(t_.alloc(Category::comm_buffers, "gathered params", "", gathered_bytes(layer), 1, stream));
    const uint64_t next = gathered_bytes(layer + 1);
    const uint64_t prefetch = std::min<uint64_t>(next, static_cast<uint64_t>(tr_.prefetch_bucket_elems) * recipe_.param_bytes);
    if (prefetch > 0) handles->push_back(t_.alloc(Category::comm_buffers, "prefetched params", "", prefetch, 1, stream));
  }

  // ---- FSDP2 (torch.distributed.fsdp.fully_shard, measured in tests/regression/measured/hf_dist)
  // Unshards `layer` (-1: the root module: embeddings, final norm, lm_head): the all-gather input
  // (the local 16-bit shard copy) and the flat output exist while the result is copied out into
  // per-parameter 16-bit tensors, which stay until the module is resharded.
  // FSDP2 keeps each all-gather's flat output until the next module's copy-out has run (its
  // AllGatherState), so that the CPU cannot run ahead of the copy.
  int fsdp_unshard(int64_t layer) {
    const uint64_t full = gathered_bytes(layer);
    if (full == 0) return -1;
    const int in = t_.alloc(Category::comm_buffers, "all-gather input", "", full / static_cast<uint64_t>(shards_), 1, kAllGatherStream);
    const int flat = t_.alloc(Category::comm_buffers, "all-gather output", "", full, 1, kAllGatherStream);
    const int out = t_.alloc(Category::comm_buffers, "unsharded params", "", full);
    t_.free(in);
    free_handle(fsdp_previous_gather_);
    fsdp_previous_gather_ = flat;
    return out;
  }
  // The next module's all-gather in flight while this one computes (implicit prefetch).
  int fsdp_prefetch(int64_t layer) {
    if (layer < 0 || layer >= m_.layers) return -1;
    return t_.alloc(Category::comm_buffers, "prefetched all-gather", "", gathered_bytes(layer), 1, kAllGatherStream);
  }
  // After a module's backward its unsharded 16-bit gradients are upcast into the fp32
  // reduce-scatter input, scattered, and accumulated into the fp32 gradient shards.
  // The reduce-scatter input stays alive until the next module's post-backward (FSDP2's
  // ReduceScatterState: the collective may still read it on its own stream).
  void fsdp_reduce_scatter(int64_t layer) {
    int64_t elements = 0;
    for (size_t i = 0; i < params_.size(); ++i)
      if (params_[i].layer == layer) elements += params_[i].elements;
    free_handle(fsdp_previous_rs_input_);
    const int in = t_.alloc(Category::comm_buffers, "reduce-scatter input (fp32)", "", static_cast<uint64_t>(elements) * kFp32);
    std::vector<int>& pending = fsdp_pending_grads_[layer];
    t_.free_all(pending);
    pending.clear();
    const int out = t_.alloc(Category::comm_buffers, "reduce-scatter output", "",
                             static_cast<uint64_t>(shard_elements(elements, shards_)) * kFp32, 1, kReduceScatterStream);
    for (size_t i = 0; i < params_.size(); ++i)
      if (params_[i].layer == layer && grad_handles_[i] < 0)
        grad_handles_[i] = t_.alloc(Category::grads, params_[i].name, ".grad_shard",
                                    static_cast<uint64_t>(shard_elements(params_[i].elements, shards_)) * kFp32);
    fsdp_previous_rs_input_ = in;
    t_.free(out);
  }
  void free_grads() {
    for (int& h : grad_handles_) free_handle(h);
  }
  void free_handle(int& h) {
    if (h >= 0) t_.free(h);
    h = -1;
  }

  void forward(int step) {
    t_.begin_phase(Phase::forward_end, step);
    stem_handles_.clear();
    layer_handles_.assign(static_cast<size_t>(m_.layers), {});
    alloc_rows(stem_inputs_, Category::activations, &stem_handles_);
    if (ddp_buckets_ >= 0 && step == 2 && ddp_rebuilt_ < 0) {
      // DDP rebuilds its buckets in the second iteration: the new set exists next to the old one
      // until that iteration's backward has finished.
      ddp_rebuilt_ = t_.alloc(Category::comm_buffers, "DDP rebuilt gradient buckets", "",
                              static_cast<uint64_t>(total_params_) * recipe_.grad_bytes);
    }
    if (fsdp_) fsdp_root_ = fsdp_unshard(-1);  // the root is not resharded after forward
    fsdp_kept_.assign(static_cast<size_t>(m_.layers), -1);
    std::vector<int> autocast_cache;
    for (int64_t i = 0; i < m_.layers; ++i) {
      std::vector<int> gathered;
      gather_layer(i, &gathered);
      int unsharded = fsdp_ ? fsdp_unshard(i) : -1;
      int prefetch = fsdp_ ? fsdp_prefetch(i + 1) : -1;
      const BlockActivations& b = block(i);
      std::vector<int>& saved = layer_handles_[static_cast<size_t>(i)];
      std::vector<int> transient;
      if (checkpointed(i)) {
        if (!s_.cpu_checkpointing) alloc_rows(checkpoint_rows_, Category::activations, &saved);
        // Inside the checkpointed forward nothing is kept; the largest intermediates still exist
        // briefly. Autocast's cached weight casts live until the autocast region ends.
        alloc_rows(ckpt_casts_[block_kind(i)], Category::activations, &autocast_cache);
        alloc_rows(ckpt_transient_[block_kind(i)], Category::working, &transient);
      } else {
        alloc_rows(b.saved, Category::activations, &saved);
      }
      alloc_rows(b.forward_transient, Category::working, &transient);
      t_.free_all(transient);
      t_.free_all(gathered);
      free_handle(prefetch);
      // reshard_after_forward=True (ZeRO-3-like) frees the layer now; False keeps it for backward.
      if (s_.zero_stage >= 3) free_handle(unsharded);
      else fsdp_kept_[static_cast<size_t>(i)] = unsharded;
    }
    std::vector<int> head_gather;
    if (deepspeed_ && s_.zero_stage >= 3 && !m_.tied_embeddings) gather_layer(-1, &head_gather);
    alloc_rows(stem_head_, Category::activations, &head_handles_);
    if (s_.loss_chunks > 1) {  // chunked loss path (loss_path.h): no [t, V] tensor, lm_head's input not kept
      chunked_loss_ = chunked_loss_forward(t_, {static_cast<uint64_t>(tokens_), static_cast<uint64_t>(m_.hidden),
                                                static_cast<uint64_t>(m_.vocab), c_.compute_bytes,
                                                recipe_.param_bytes, s_.loss_chunks});
      for (size_t i = stem_head_.size(); i-- > 0;)
        if (stem_head_[i].name.rfind("lm_head.input", 0) == 0) {
          t_.free(head_handles_[i]);
          head_handles_.erase(head_handles_.begin() + static_cast<std::ptrdiff_t>(i));
        }
      t_.free_all(head_gather);
      t_.free_all(autocast_cache);
      t_.end_phase(Phase::forward_end, step);
      return;
    }
    // ---- logits and loss (transformers ForCausalLMLoss): logits in the compute dtype, upcast to
    // fp32, log_softmax keeps its fp32 output, nll_loss reads it. A loop that keeps `outputs`
    // holds these logits until the next forward has returned and rebinds it.
    const uint64_t tv = static_cast<uint64_t>(tokens_) * static_cast<uint64_t>(m_.vocab);
    const int logits = t_.alloc(Category::logits, "logits", "", tv * c_.compute_bytes);
    const int upcast = c_.compute_bytes == kFp32 ? -1 : t_.alloc(Category::logits, "logits.float()", "", tv * kFp32);
    log_softmax_ = t_.alloc(Category::logits, "log_softmax", "", tv * kFp32);
    if (upcast >= 0) t_.free(upcast);
    if (held_logits_ >= 0) t_.free(held_logits_);
    held_logits_ = -1;
    const bool hold = tr_.hold_outputs && !runtime_;
    if (hold) held_logits_ = logits;
    t_.free_all(head_gather);
    t_.free_all(autocast_cache);
    t_.end_phase(Phase::forward_end, step);
    // A loop that does not keep `outputs` (HF Trainer, zplan's runtime) drops the logits once
    // the loss is read.
    if (!hold) t_.free(logits);
  }

  static std::vector<TensorRow> largest_rows(std::vector<TensorRow> rows, size_t n) {
    std::sort(rows.begin(), rows.end(), [](const TensorRow& a, const TensorRow& b) {
      return a.bytes_per_token + a.bytes_per_sequence > b.bytes_per_token + b.bytes_per_sequence;
    });
    if (rows.size() > n) rows.resize(n);
    return rows;
  }

  // ---------------- backward ----------------
  // Gradient of one parameter tensor arriving in backward.
  void grad_arrives(size_t index) {
    const ParamTensor& p = params_[index];
    int& handle = grad_handles_[index];
    const uint64_t full = static_cast<uint64_t>(p.elements) * recipe_.grad_bytes;
    if (c_.autocast) {
      // The matmul produces a 16-bit gradient of the cast weight; the cast's backward upcasts it.
      const int h = t_.alloc(Category::working, p.name, ".grad16", static_cast<uint64_t>(p.elements) * 2);
      t_.free(h);
    }
    if (stages_1_2()) staged_gradient_arrives();
    if (grads_partitioned() || stages_1_2()) {
      // DeepSpeed copies .grad into its reduce bucket and frees it.
      const int h = t_.alloc(Category::working, p.name, ".grad", full);
      t_.free(h);
      return;
    }
    if (fsdp_) {
      // The unsharded 16-bit gradient waits for its module's reduce-scatter.
      fsdp_pending_grads_[p.layer].push_back(
          t_.alloc(Category::working, p.name, ".grad_unsharded", static_cast<uint64_t>(p.elements) * c_.compute_bytes));
      return;
    }
    if (handle >= 0) {
      // Accumulation: the new gradient is added in place into the existing .grad.
      const int h = t_.alloc(Category::working, p.name, ".grad_new", full);
      t_.free(h);
      return;
    }
    handle = t_.alloc(Category::grads, p.name, ".grad", full);
  }

  // DeepSpeed 0.19 stages 1 and 2 (stage_1_and_2.py, contiguous_gradients): the first gradient
  // of a step creates the reduce bucket(s) (setup_buckets: reduce_bucket_size elements, two with
  // overlap_comm) and, at the first reduction, the 16-bit gradient partition the rank owns
  // (copy_grads_in_partition). The epilogue after backward releases the buckets
  // (_release_ipg_buffers); the partition lives on as averaged_gradients until the step.
  bool stages_1_2() const { return deepspeed_ && (s_.zero_stage == 1 || s_.zero_stage == 2); }
  void staged_gradient_arrives() {
    if (!staged_buckets_.empty()) return;
    const int buckets = overlap_comm_ ? 2 : 1;
    const uint64_t b = deepspeed_bucket_bytes();
    for (int i = 0; i < buckets; ++i) staged_buckets_.push_back(t_.alloc(Category::comm_buffers, "reduce bucket", "", b));
    if (!s_.offload_optimizer)
      staged_partition_ = t_.alloc(Category::grads, "16-bit gradient partition", "",
                                   static_cast<uint64_t>(shard_elements(total_params_, shards_)) * recipe_.grad_bytes);
  }

  void grads_of_layer(int64_t layer) {
    for (size_t i : layer_param_index_[static_cast<size_t>(layer)]) grad_arrives(i);
  }
  void grads_named(const std::string& name) {
    for (size_t i = 0; i < params_.size(); ++i)
      if (params_[i].layer < 0 && params_[i].name.rfind(name, 0) == 0) grad_arrives(i);
  }

  // One DeepSpeed gradient bucket: reduce_bucket_size elements of the gradient dtype (never more
  // than the model has). The test-only scale lets the mutation test perturb it.
  uint64_t deepspeed_bucket_bytes() const {
    const double b = static_cast<double>(std::min<int64_t>(tr_.reduce_bucket_elems, total_params_)) * recipe_.grad_bytes;
    return static_cast<uint64_t>(b * test_term_scales().deepspeed_buckets);
  }

  void backward(int step) {
    t_.begin_phase(Phase::backward_peak, step);
    if (reduce_buckets_.empty() && deepspeed_ && s_.zero_stage >= 3) {
      // Stage 3 keeps one flat reduce bucket for the run (stage3.py __ipg_bucket_flat_buffer).
      const uint64_t b = deepspeed_bucket_bytes();
      reduce_buckets_.push_back(t_.alloc(Category::comm_buffers, "reduce bucket", "", b));
    }
    const uint64_t tv = static_cast<uint64_t>(tokens_) * static_cast<uint64_t>(m_.vocab);
    const bool chunked = chunked_loss_.grad_head >= 0;  // the loss path's gradients exist already
    int lsm_grad = -1, logits_grad = -1;
    if (!chunked) {
      // ---- loss backward: nll_loss_backward writes a zero-filled [t, V] fp32 gradient,
      // log_softmax_backward a second one; then the upcast's backward casts it to 16 bits.
      const int nll_grad = t_.alloc(Category::logits, "nll_loss grad", "", tv * kFp32);
      lsm_grad = t_.alloc(Category::logits, "log_softmax grad", "", tv * kFp32);
      t_.free(nll_grad);
      t_.free(log_softmax_);
      if (c_.compute_bytes != kFp32) logits_grad = t_.alloc(Category::logits, "logits grad", "", tv * c_.compute_bytes);
      if (logits_grad >= 0) t_.free(lsm_grad);
    }
    // ---- lm_head backward
    std::vector<int> head_gather;
    if (deepspeed_ && s_.zero_stage >= 3) gather_layer(-1, &head_gather);
    // Chunked: the held d h becomes the hidden states' gradient and d W the head's .grad.
    if (chunked) free_handle(chunked_loss_.grad_hidden);
    const int grad_hidden = t_.alloc(Category::working, "grad of hidden states", "",
                                     static_cast<uint64_t>(tokens_) * m_.hidden * std::max(c_.residual_bytes, c_.compute_bytes));
    if (chunked) free_handle(chunked_loss_.grad_head);
    grads_named(m_.tied_embeddings ? "wte" : "lm_head");
    if (logits_grad >= 0) t_.free(logits_grad);
    else if (lsm_grad >= 0) t_.free(lsm_grad);
    grads_named("final_norm");
    t_.free_all(head_handles_);
    head_handles_.clear();
    t_.free_all(head_gather);
    // ---- blocks, last to first
    for (int64_t i = m_.layers - 1; i >= 0; --i) {
      std::vector<int> gathered, recomputed, transient;
      gather_layer(i, &gathered);
      int unsharded = -1, prefetch = -1;
      if (fsdp_) {
        unsharded = s_.zero_stage >= 3 ? fsdp_unshard(i) : fsdp_kept_[static_cast<size_t>(i)];
        prefetch = fsdp_prefetch(i - 1);
      }
      const BlockActivations& b = block(i);
      if (checkpointed(i)) {
        if (s_.cpu_checkpointing) alloc_rows(checkpoint_rows_, Category::activations, &recomputed);
        alloc_rows(b.saved, Category::activations, &recomputed);
        alloc_rows(b.forward_transient, Category::working, &transient);
        t_.free_all(transient);
        transient.clear();
      }
      alloc_rows(b.backward_transient, Category::working, &transient);
      grads_of_layer(i);
      t_.free_all(transient);
      t_.free_all(recomputed);
      t_.free_all(layer_handles_[static_cast<size_t>(i)]);
      t_.free_all(gathered);
      if (fsdp_) {
        fsdp_reduce_scatter(i);
        free_handle(prefetch);
        free_handle(unsharded);
      }
    }
    // ---- embeddings (when tied, wte's gradient exists already and this one is accumulated)
    grads_named("wte");
    grads_named("wpe");
    t_.free(grad_hidden);
    if (fsdp_) {
      fsdp_reduce_scatter(-1);  // the root's post-backward, after the embedding's gradient
      free_handle(fsdp_root_);
      free_handle(fsdp_previous_rs_input_);  // released by the final post-backward callback
    }
    if (ddp_rebuilt_ >= 0 && ddp_buckets_ >= 0) {
      t_.free(ddp_buckets_);
      ddp_buckets_ = ddp_rebuilt_;
    }
    t_.free_all(staged_buckets_);
    staged_buckets_.clear();
    t_.free_all(stem_handles_);
    stem_handles_.clear();
    t_.end_phase(Phase::backward_peak, step);
  }

  // ---------------- optimizer ----------------
  void optimizer(int step) {
    t_.begin_phase(Phase::optimizer_step, step);
    std::vector<int> temps;
    if (deepspeed_) {
      if (!s_.offload_optimizer && recipe_.fp32_grad_bytes > 0 && s_.zero_stage >= 1) {
        int64_t n = optimizer_shard_elements();
        if (s_.zero_stage >= 3) n = std::min<int64_t>(n, tr_.sub_group_size);
        // Stages 1/2 flatten the partition's 16-bit gradients (a copy) before the fp32 upcast.
        if (s_.zero_stage <= 2)
          temps.push_back(t_.alloc(Category::optimizer_temp, "flattened 16-bit gradient partition", "",
                                   static_cast<uint64_t>(n) * recipe_.grad_bytes));
        temps.push_back(t_.alloc(Category::optimizer_temp, "fp32 gradient partition", "", static_cast<uint64_t>(n) * kFp32));
        if (step == 1 && lazy_adam_state()) alloc_optimizer_states("adam state");
      }
      if (s_.zero_stage == 0 && recipe_.master_bytes > 0)
        // FP16_UnfusedOptimizer.step: every fp32 master gets .grad = its 16-bit .grad upcast, all
        // of them before the inner optimizer steps, all freed after (fp16/unfused_optimizer.py).
        for (const ParamTensor& p : params_)
          temps.push_back(t_.alloc(Category::optimizer_temp, p.name, ".grad_fp32", static_cast<uint64_t>(p.elements) * kFp32));
    } else if (runtime_) {
      // One gradient at a time is upcast to fp32 (fp16 adds the overflow check's fp32 copy and
      // its bool result); fused AdamW itself allocates nothing.
      if (recipe_.fp32_grad_bytes > 0)
        for (const ParamTensor& p : params_) {
          const uint64_t n = static_cast<uint64_t>(p.elements);
          const int h = t_.alloc(Category::optimizer_temp, p.name, ".grad_fp32", n * kFp32);
          const int check = is_fp16(s_.precision) ? t_.alloc(Category::optimizer_temp, p.name, ".overflow_check", n * (kFp32 + 1)) : -1;
          if (check >= 0) t_.free(check);
          t_.free(h);
        }
    } else {
      if (step == 1) alloc_optimizer_states("adam");
      if (recipe_.fp32_grad_bytes > 0 && !fsdp_)
        for (const ParamTensor& p : params_)
          temps.push_back(t_.alloc(Category::optimizer_temp, p.name, ".grad_fp32", static_cast<uint64_t>(p.elements) * kFp32));
    }
    t_.free_all(temps);
    free_handle(staged_partition_);
    // zero_grad(set_to_none=True) frees every .grad (DeepSpeed keeps its flat buffers): inside
    // the optimizer phase in the HF loop, in its own step_end phase in zplan's runtime.
    if (!runtime_) free_grads();
    t_.end_phase(Phase::optimizer_step, step);
    t_.begin_phase(Phase::step_end, step);
    if (runtime_) free_grads();
    t_.end_phase(Phase::step_end, step);
  }

  const ModelSpec& m_;
  const TrainingSpec& tr_;
  const Strategy& s_;
  const ExecContext& c_;
  const PrecisionRecipe recipe_;
  const std::vector<ParamTensor>& params_;
  const int64_t shards_;
  int64_t tokens_ = 0;
  int64_t total_params_ = 0;
  std::map<int64_t, int64_t> layer_params_;
  bool deepspeed_ = false, fsdp_ = false, overlap_comm_ = false, runtime_ = false;
  Timeline t_;
  std::vector<TensorRow> stem_inputs_, stem_head_;
  std::vector<int> stem_handles_, head_handles_, reduce_buckets_, staged_buckets_;
  std::vector<std::vector<int>> layer_handles_;
  std::vector<int> grad_handles_;  // per parameter tensor, -1 when its .grad does not exist
  std::vector<std::vector<size_t>> layer_param_index_;
  std::array<BlockActivations, 4> blocks_;  // by block_kind()
  std::array<std::vector<TensorRow>, 4> ckpt_casts_, ckpt_transient_;
  std::vector<TensorRow> checkpoint_rows_;
  int staged_partition_ = -1;  // DeepSpeed stages 1/2: this step's 16-bit gradient partition
  int held_logits_ = -1, log_softmax_ = -1, ddp_buckets_ = -1, ddp_rebuilt_ = -1, fsdp_root_ = -1;
  ChunkedLossHeld chunked_loss_;  // Strategy::loss_chunks > 1: d h and d W held from forward to backward
  int fsdp_previous_gather_ = -1, fsdp_previous_rs_input_ = -1;
  std::vector<int> fsdp_kept_;
  std::map<int64_t, std::vector<int>> fsdp_pending_grads_;  // per module (-1: root)
};

}  // namespace

Timeline build_step_timeline(const ModelSpec& m, const TrainingSpec& training,
                             const Strategy& strategy, const ExecContext& c, bool record_names) {
  return StepBuilder(m, training, strategy, c, record_names).build();
}

}  // namespace zplan

// Builds the allocation timeline of a training step (see step_simulation.h): the one step
// skeleton. What every framework shares is here: the cuBLAS workspaces and the resident weights at
// init, each block's saved activations and transients (recomputed for checkpointed layers, with
// autocast's weight casts), the stem and the head, logits and the loss path with its gradients,
// the autocast gradient casts, zero_grad. What a framework adds or changes (masters, optimizer
// state, gradient buffers and buckets, gathers, reduce-scatters, when the gradients are freed) is
// its policy's hook (planner/framework/framework_policy.h, one file per framework; sources and
// measurements in docs/memory-model.md).
#include "planner/memory/step_simulation.h"

#include <algorithm>
#include <array>
#include <memory>

#include "planner/framework/framework_policy.h"
#include "planner/memory/activations.h"
#include "planner/memory/loss_path.h"
#include "planner/memory/runtime_layer_order.h"

namespace zplan {
namespace {

constexpr uint64_t kCublasWorkspaceBytes = 64ull << 20;

class StepSkeleton {
 public:
  StepSkeleton(const ModelSpec& m, const TrainingSpec& tr, const Strategy& s, const ExecContext& c, TimelineRecording recording)
      : st_(m, tr, s, c, recording), m_(m), s_(s), c_(c), t_(st_.t), policy_(make_framework_policy(st_)) {
    tokens_ = c.tokens_per_rank();
    // Layers of one kind (dense or sparse MLP, global or sliding attention) save the same rows:
    // build each table once.
    layer_kinds_.resize(static_cast<size_t>(std::max<int64_t>(m.layers, 0)));
    for (int64_t i = 0; i < m.layers; ++i) {
      const size_t kind = (m_.layer_is_sparse(i) ? 1u : 0u) + (m_.layer_slides(i, c_.seq_len) ? 2u : 0u);
      layer_kinds_[static_cast<size_t>(i)] = static_cast<uint8_t>(kind);
      BlockActivations& b = blocks_[kind];
      if (!b.saved.empty()) continue;
      b = block_activations(m, i, c);
      // What a checkpointed forward of this kind leaves alive: autocast's cached weight casts
      // (until the autocast region ends), and briefly its largest intermediates.
      std::vector<TensorRow> others;
      for (const TensorRow& r : b.saved) (r.name.rfind("autocast", 0) == 0 ? ckpt_casts_[kind] : others).push_back(r);
      ckpt_transient_[kind] = largest_rows(others, 3);
      order_[kind] = runtime_layer_order(m, i, c, b);
    }
    checkpoint_rows_ = checkpointed_block_saved(m, c);
    // The stem: inputs and RoPE tables live through the step; the final norm and lm_head input
    // (and the lm_head's autocast cast) are made at the end of forward.
    for (const TensorRow& r : stem_activations(m, c).saved)
      (r.name.rfind("final_norm", 0) == 0 || r.name.rfind("lm_head", 0) == 0 || r.name.rfind("autocast", 0) == 0
           ? stem_head_ : stem_inputs_).push_back(r);
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
    return std::move(st_.t);
  }

 private:
  // ---------------- init ----------------
  void init() {
    t_.begin_phase(Phase::after_init, 0);
    // cuBLAS and cuBLASLt workspaces come from the caching allocator on first use (32 MiB each on
    // Hopper with PyTorch 2.x; measured 64 MiB together, docs/measurements/hf_raw).
    t_.alloc(Category::working, "cuBLAS workspaces", "", kCublasWorkspaceBytes);
    for (const ParamTensor& p : st_.params) t_.alloc(Category::weights, p.name, "", policy_->resident_param_bytes(p));
    policy_->init();
    t_.end_phase(Phase::after_init, 0);
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
  // Dense or sparse MLP, global or sliding attention (blocks_'s index); asked several times per
  // layer of every timeline, so kept per layer.
  size_t block_kind(int64_t layer) const { return layer_kinds_[static_cast<size_t>(layer)]; }

  const BlockActivations& block(int64_t layer) const { return blocks_[block_kind(layer)]; }

  void forward(int step) {
    t_.begin_phase(Phase::forward_end, step);
    stem_handles_.clear();
    // Cleared, not reallocated: the handle lists keep their capacity from one step to the next.
    layer_handles_.resize(static_cast<size_t>(m_.layers));
    for (std::vector<int>& handles : layer_handles_) handles.clear();
    alloc_rows(stem_inputs_, Category::activations, &stem_handles_);
    policy_->before_forward(step);
    std::vector<int>& autocast_cache = scratch_autocast_;
    autocast_cache.clear();
    for (int64_t i = 0; i < m_.layers; ++i) {
      policy_->begin_layer(i, Pass::forward);
      const BlockActivations& b = block(i);
      std::vector<int>& saved = layer_handles_[static_cast<size_t>(i)];
      std::vector<int>& transient = scratch_transient_;
      transient.clear();
      if (checkpointed(i)) {
        if (!s_.cpu_checkpointing) alloc_rows(checkpoint_rows_, Category::activations, &saved);
        // Inside the checkpointed forward nothing is kept; the largest intermediates still exist
        // briefly. Autocast's cached weight casts live until the autocast region ends.
        alloc_rows(ckpt_casts_[block_kind(i)], Category::activations, &autocast_cache);
        const RuntimeLayerOrder& o = order_[block_kind(i)];
        if (o.modelled) {
          // zplan's runtime (runtime_layer_order.h): with CPU checkpointing the layer's input is
          // still on the GPU while the layer runs; its MLP expression is the peak.
          if (s_.cpu_checkpointing) alloc_rows(checkpoint_rows_, Category::working, &transient);
          std::vector<int>& mlp = scratch_recomputed_;
          mlp.clear();
          alloc_rows(o.nograd_mlp_peak, Category::working, &mlp);
          t_.free_all(mlp);
        } else {
          alloc_rows(ckpt_transient_[block_kind(i)], Category::working, &transient);
        }
      } else {
        alloc_rows(b.saved, Category::activations, &saved);
      }
      alloc_rows(b.forward_transient, Category::working, &transient);
      t_.free_all(transient);
      policy_->end_layer(i, Pass::forward);
    }
    policy_->begin_head(Pass::forward);
    alloc_rows(stem_head_, Category::activations, &head_handles_);
    if (s_.loss_chunks > 1) {  // chunked loss path (loss_path.h): no [t, V] tensor, lm_head's input not kept
      chunked_loss_ = chunked_loss_forward(t_, {static_cast<uint64_t>(tokens_), static_cast<uint64_t>(m_.hidden),
                                                static_cast<uint64_t>(m_.vocab), c_.compute_bytes,
                                                c_.param_bytes, s_.loss_chunks});
      for (size_t i = stem_head_.size(); i-- > 0;)
        if (stem_head_[i].name.rfind("lm_head.input", 0) == 0) {
          t_.free(head_handles_[i]);
          head_handles_.erase(head_handles_.begin() + static_cast<std::ptrdiff_t>(i));
        }
      policy_->end_head(Pass::forward);
      t_.free_all(autocast_cache);
      t_.end_phase(Phase::forward_end, step);
      return;
    }
    // ---- logits and loss (loss_path.h). A loop that keeps `outputs` holds these logits until
    // the next forward has returned and rebinds it.
    plain_loss_ = plain_loss_forward(t_, plain_loss_shape());
    if (held_logits_ >= 0) t_.free(held_logits_);
    held_logits_ = -1;
    const bool hold = policy_->keeps_outputs();
    if (hold) held_logits_ = plain_loss_.logits;
    policy_->end_head(Pass::forward);
    t_.free_all(autocast_cache);
    t_.end_phase(Phase::forward_end, step);
    // A loop that does not keep `outputs` (HF Trainer, zplan's runtime) drops the logits once
    // the loss is read, unless the loss's node keeps them for backward.
    if (!hold && !plain_loss_.logits_saved) t_.free(plain_loss_.logits);
  }
  PlainLossShape plain_loss_shape() const {
    return {static_cast<uint64_t>(tokens_), static_cast<uint64_t>(m_.vocab), c_.compute_bytes, c_.fused_cross_entropy};
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
    const ParamTensor& p = st_.params[index];
    if (c_.autocast) {
      // The matmul produces a 16-bit gradient of the cast weight; the cast's backward upcasts it.
      const int h = t_.alloc(Category::working, p.name, ".grad16", static_cast<uint64_t>(p.elements) * 2);
      t_.free(h);
    }
    policy_->gradient_ready(index);
  }
  // The gradients of the layer's parameters whose role is in `roles` (in_roles) or is not in it.
  void grads_of_layer(int64_t layer, const std::vector<TensorRole>& roles = {}, bool in_roles = false) {
    for (size_t i : st_.layer_param_index[static_cast<size_t>(layer)])
      if ((std::find(roles.begin(), roles.end(), st_.params[i].role) != roles.end()) == in_roles) grad_arrives(i);
  }
  // The out-of-place sum of a tied embedding's two gradients (see backward's end), or -1.
  int tied_embedding_sum() {
    if (!m_.tied_embeddings || c_.autocast) return -1;
    for (size_t i = 0; i < st_.params.size(); ++i)
      if (st_.params[i].role == TensorRole::token_embedding && st_.grad_handles[i] >= 0)
        return t_.alloc(Category::working, st_.params[i].name, ".grad_sum",
                        static_cast<uint64_t>(st_.params[i].elements) * st_.recipe.grad_bytes);
    return -1;
  }
  void grads_named(const std::string& name) {
    for (size_t i = 0; i < st_.params.size(); ++i)
      if (st_.params[i].layer < 0 && st_.params[i].name.rfind(name, 0) == 0) grad_arrives(i);
  }

  void backward(int step) {
    t_.begin_phase(Phase::backward_peak, step);
    policy_->begin_backward();
    const bool chunked = chunked_loss_.grad_head >= 0;  // the loss path's gradients exist already
    // ---- loss backward (loss_path.h): the logits' gradient, for lm_head's backward to read.
    const int logits_grad = chunked ? -1 : plain_loss_backward(t_, plain_loss_shape(), plain_loss_, held_logits_ >= 0);
    plain_loss_ = {};
    // ---- lm_head backward
    policy_->begin_head(Pass::backward);
    // Chunked: the held d h becomes the hidden states' gradient and d W the head's .grad.
    if (chunked) t_.free(chunked_loss_.grad_hidden);
    const int grad_hidden = t_.alloc(Category::working, "grad of hidden states", "",
                                     static_cast<uint64_t>(tokens_) * m_.hidden * std::max(c_.residual_bytes, c_.compute_bytes));
    if (chunked) t_.free(chunked_loss_.grad_head);
    chunked_loss_ = {};
    grads_named(m_.tied_embeddings ? "wte" : "lm_head");
    if (logits_grad >= 0) t_.free(logits_grad);
    grads_named("final_norm");
    t_.free_all(head_handles_);
    head_handles_.clear();
    policy_->end_head(Pass::backward);
    // ---- blocks, last to first
    for (int64_t i = m_.layers - 1; i >= 0; --i) {
      std::vector<int>& recomputed = scratch_recomputed_;
      std::vector<int>& transient = scratch_transient_;
      recomputed.clear();
      transient.clear();
      policy_->begin_layer(i, Pass::backward);
      const BlockActivations& b = block(i);
      if (order_[block_kind(i)].modelled) {
        backward_layer_in_order(i);
        policy_->end_layer(i, Pass::backward);
        continue;
      }
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
      policy_->end_layer(i, Pass::backward);
    }
    // ---- embeddings (when tied, wte's gradient exists already and this one is accumulated).
    // Tied without autocast, autograd's input buffer for wte holds the lm_head's weight gradient, a
    // matmul output it cannot add into in place: the embedding's gradient is summed out of place, so
    // the old gradient, the new one and their sum are live together (measured on zplan's runtime:
    // end-of-backward peak 4 bytes per [V, C] element above the step's end in bf16;
    // tests/regression/measured/zplan_fused_adamw). Under autocast the lm_head's gradient arrives
    // through the weight cast's backward as a fresh fp32 tensor, which the buffer adds into in place.
    const int tied_sum = tied_embedding_sum();
    grads_named("wte");
    if (tied_sum >= 0) t_.free(tied_sum);
    grads_named("wpe");
    t_.free(grad_hidden);
    policy_->after_backward();
    t_.free_all(stem_handles_);
    stem_handles_.clear();
    t_.end_phase(Phase::backward_peak, step);
  }

  // A layer of zplan's runtime whose op order is modelled (runtime_layer_order.h): the recompute
  // of a checkpointed layer (its input back from the host with CPU checkpointing, every saved row,
  // the output CheckpointFn::backward holds), then the MLP's nodes, then the attention half's.
  void backward_layer_in_order(int64_t i) {
    const BlockActivations& b = block(i);
    const RuntimeLayerOrder& o = order_[block_kind(i)];
    std::vector<int>& kept = layer_handles_[static_cast<size_t>(i)];
    std::vector<int> saved, held, transient;  // saved: one handle per row of b.saved
    if (checkpointed(i)) {
      if (s_.cpu_checkpointing) alloc_rows(checkpoint_rows_, Category::activations, &held);
      alloc_rows(b.saved, Category::activations, &saved);
      alloc_rows({o.recompute_output}, Category::activations, &held);
      alloc_rows(b.forward_transient, Category::working, &transient);
      t_.free_all(transient);
      transient.clear();
    } else {
      saved.swap(kept);
    }
    auto free_rows = [&](const std::vector<std::string>& names) {
      for (size_t k = 0; k < b.saved.size(); ++k)
        if (saved[k] >= 0 && std::find(names.begin(), names.end(), b.saved[k].name) != names.end()) {
          t_.free(saved[k]);
          saved[k] = -1;
        }
    };
    free_rows(o.freed_before_mlp_grads);
    std::vector<TensorRole> arrived = run_experts_backward(i, o.experts_backward, free_rows);
    alloc_rows(o.mlp_backward, Category::working, &transient);
    t_.free_all(transient);
    transient.clear();
    free_rows(o.mlp_saved);
    alloc_rows(o.attention_backward, Category::working, &transient);
    grads_of_layer(i, arrived);  // the rest of the layer's gradients
    t_.free_all(transient);
    for (int h : saved)
      if (h >= 0) t_.free(h);
    t_.free_all(held);
    t_.free_all(kept);
    kept.clear();
  }

  // The routed experts' nodes of a sparse layer (RuntimeLayerOrder::experts_backward): gradients
  // made and released by name, saved rows released through `free_saved`, weight gradients arriving.
  // Returns the roles whose gradients arrived.
  template <typename FreeSaved>
  std::vector<TensorRole> run_experts_backward(int64_t i, const std::vector<BackwardOp>& ops, FreeSaved& free_saved) {
    std::vector<TensorRole> arrived;
    std::vector<std::pair<std::string, int>> made;
    for (const BackwardOp& op : ops) {
      if (op.kind == BackwardOp::Kind::alloc) {
        std::vector<int> h;
        alloc_rows({op.row}, Category::working, &h);  // one handle per row
        made.emplace_back(op.row.name, h.front());
      } else if (op.kind == BackwardOp::Kind::free) {
        auto it = std::find_if(made.begin(), made.end(), [&](const auto& e) { return e.first == op.name; });
        if (it == made.end()) {
          free_saved(std::vector<std::string>{op.name});
        } else {
          t_.free(it->second);
          made.erase(it);
        }
      } else {
        grads_of_layer(i, op.roles, /*in_roles=*/true);
        arrived.insert(arrived.end(), op.roles.begin(), op.roles.end());
      }
    }
    for (const auto& e : made) t_.free(e.second);
    return arrived;
  }

  // ---------------- optimizer ----------------
  void optimizer(int step) {
    t_.begin_phase(Phase::optimizer_step, step);
    policy_->optimizer_step(step);
    // zero_grad(set_to_none=True) frees every gradient (DeepSpeed keeps its flat buffers): inside
    // the optimizer phase in the HF loop, in its own step_end phase in zplan's runtime.
    const bool at_step_end = policy_->zero_grad_at_step_end();
    if (!at_step_end) st_.free_grads();
    t_.end_phase(Phase::optimizer_step, step);
    t_.begin_phase(Phase::step_end, step);
    if (at_step_end) st_.free_grads();
    t_.end_phase(Phase::step_end, step);
  }

  StepState st_;
  const ModelSpec& m_;
  const Strategy& s_;
  const ExecContext& c_;
  Timeline& t_;
  std::unique_ptr<FrameworkPolicy> policy_;
  int64_t tokens_ = 0;
  std::vector<TensorRow> stem_inputs_, stem_head_;
  std::vector<int> stem_handles_, head_handles_;
  std::vector<std::vector<int>> layer_handles_;
  // Handle lists of one layer at a time, reused so that a timeline does not allocate them per layer.
  std::vector<int> scratch_autocast_, scratch_transient_, scratch_recomputed_;
  std::vector<uint8_t> layer_kinds_;        // block_kind() of each layer
  std::array<BlockActivations, 4> blocks_;  // by block_kind()
  std::array<std::vector<TensorRow>, 4> ckpt_casts_, ckpt_transient_;
  std::array<RuntimeLayerOrder, 4> order_;  // zplan's runtime, by block_kind()
  std::vector<TensorRow> checkpoint_rows_;
  int held_logits_ = -1;
  PlainLossHeld plain_loss_;      // the plain loss path's logits and what the loss keeps, forward to backward
  ChunkedLossHeld chunked_loss_;  // Strategy::loss_chunks > 1: d h and d W held from forward to backward
};

}  // namespace

Timeline build_step_timeline(const ModelSpec& m, const TrainingSpec& training,
                             const Strategy& strategy, const ExecContext& c, TimelineRecording recording) {
  return StepSkeleton(m, training, strategy, c, recording).build();
}

}  // namespace zplan

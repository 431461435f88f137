// runtime_layer_order.h: where the order of ops in a dense gated (SwiGLU/GeGLU) layer of zplan's
// runtime decides the peak (runtime/model/blocks.cpp gated_mlp, transformer.cpp DecoderLayer::forward
// and CheckpointFn). The block tables (activations.h) say what a layer keeps; these rows say what
// else is alive at the two moments that set the layer's peaks at long sequences. Dims as in
// activations.h; rb residual, cb compute bytes.
//
// | moment | alive besides the rows already in the timeline | per token (bf16) |
// |---|---|---|
// | forward without autograd (a checkpointed layer, CheckpointFn::forward under NoGradGuard), at the down projection | h = x + attn, the MLP input (the norm's output), gate, silu(gate), up, their product and down's output: `return down(act * up(x))` is one C++ full-expression, so its temporaries (up, the product) live until it ends | rb·C + cb·C + 4·cb·F + cb·C |
// | backward, at the MLP multiply's node | the saved rows less the product (down's MmBackward ran first and released it), d product, d act, d up | saved − cb·F + 3·cb·F |
// | backward, the attention half | the saved rows less the MLP's (their nodes have run), the residual, norm and attention gradients | (rows in activations.cpp) |
// | backward of a checkpointed layer | + the recomputed output, CheckpointFn::backward's `out`, held until its torch::autograd::backward returns | rb·C |
//
// Gemma's sandwich layer (DecoderLayer::forward with sandwich_norm) has the same two moments: its
// post-MLP norm runs after the MLP expression, and its backward nodes (run first) release their
// fp32 rows before the MLP multiply's node.
//
// A sparse layer (moe_experts_grouped, blocks.cpp) has the same moments. Forward without autograd:
// the locals of the experts' function live until it returns, so its peak is the larger of
// (sorted input, gate_up output, silu temporary, product) and (sorted input, gate_up output,
// product, down output, its weighted copy): per routed pair eb·max(C + 4F', 3C + 3F'), next to h,
// the norm output and Qwen2-MoE's shared expert output (computed first). Backward, node by node
// (experts_backward): the weighted sum's gradient [S,C] releases the down output; down's grouped
// mm makes d product [S,F'] and the whole [E, C, F'] weight gradient and releases the product;
// the multiply makes d act and d up and releases silu's output; silu's backward makes d gate and
// releases the gate_up output (both halves have run); chunk's backward concatenates [S,2F'];
// gate_up's grouped mm makes the input gradient and the [E, 2F', C] weight gradient and releases
// the sorted input. The router's and the shared expert's nodes run after (created before).
//
// The autograd engine releases a node's saved tensors once the node has run (retain_graph false),
// and runs the MLP's nodes before the attention's (reverse creation order). Other layer kinds (GPT-2's
// composite GELU) and the Hugging Face profile keep the block tables' bound: the whole
// backward working set on top of the whole saved set, and the three largest saved rows for a
// checkpointed forward (not derived op by op; see docs/memory-model.md section 3).
#pragma once
#include <string>
#include <vector>

#include "planner/memory/activations.h"
#include "planner/memory/params.h"

namespace zplan {

// One step of a sparse layer's backward in zplan's runtime, in the order the autograd engine runs
// the experts' nodes: a gradient tensor made, a tensor released (a saved row of the block table or
// an earlier step's gradient, by name), or parameter gradients arriving.
struct BackwardOp {
  enum class Kind { alloc, free, weight_grads } kind = Kind::alloc;
  TensorRow row;                  // alloc: the gradient made (category working)
  std::string name;               // free: the row's name
  std::vector<TensorRole> roles;  // weight_grads: the layer's parameters whose gradients arrive
};

struct RuntimeLayerOrder {
  bool modelled = false;                     // false: the skeleton keeps the block tables' bound
  std::vector<TensorRow> nograd_mlp_peak;    // forward without autograd, at the down projection (not the layer input)
  std::vector<std::string> freed_before_mlp_grads;  // saved rows released before the MLP's gradient peak
  std::vector<TensorRow> mlp_backward;       // gradients alive at the MLP multiply's backward
  std::vector<std::string> mlp_saved;        // saved rows released once the MLP's nodes have run
  std::vector<TensorRow> attention_backward; // the rest of the backward working set
  TensorRow recompute_output;                // a checkpointed layer's recomputed output in backward
  std::vector<BackwardOp> experts_backward;  // sparse layers: the routed experts' nodes, before the MLP rows
};

// The order of `layer` in zplan's runtime, given its block table `b` (block_activations).
RuntimeLayerOrder runtime_layer_order(const ModelSpec& m, int64_t layer, const ExecContext& c,
                                      const BlockActivations& b);

}  // namespace zplan

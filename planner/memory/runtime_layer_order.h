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
// The autograd engine releases a node's saved tensors once the node has run (retain_graph false),
// and runs the MLP's nodes before the attention's (reverse creation order). Other layer kinds (GPT-2's
// composite GELU, MoE) and the Hugging Face profile keep the block tables' bound: the whole
// backward working set on top of the whole saved set, and the three largest saved rows for a
// checkpointed forward (not derived op by op; see docs/memory-model.md section 3).
#pragma once
#include <string>
#include <vector>

#include "planner/memory/activations.h"

namespace zplan {

struct RuntimeLayerOrder {
  bool modelled = false;                     // false: the skeleton keeps the block tables' bound
  std::vector<TensorRow> nograd_mlp_peak;    // forward without autograd, at the down projection (not the layer input)
  std::vector<std::string> freed_before_mlp_grads;  // saved rows released before the MLP's gradient peak
  std::vector<TensorRow> mlp_backward;       // gradients alive at the MLP multiply's backward
  std::vector<std::string> mlp_saved;        // saved rows released once the MLP's nodes have run
  std::vector<TensorRow> attention_backward; // the rest of the backward working set
  TensorRow recompute_output;                // a checkpointed layer's recomputed output in backward
};

// The order of `layer` in zplan's runtime, given its block table `b` (block_activations).
RuntimeLayerOrder runtime_layer_order(const ModelSpec& m, int64_t layer, const ExecContext& c,
                                      const BlockActivations& b);

}  // namespace zplan

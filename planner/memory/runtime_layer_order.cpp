// The op order of a dense gated layer of zplan's runtime (see runtime_layer_order.h for the table).
#include "planner/memory/runtime_layer_order.h"

#include <algorithm>

namespace zplan {
namespace {

bool is_mlp_row(const TensorRow& r) { return r.name.rfind("mlp.", 0) == 0; }

}  // namespace

RuntimeLayerOrder runtime_layer_order(const ModelSpec& m, int64_t layer, const ExecContext& c,
                                      const BlockActivations& b) {
  RuntimeLayerOrder o;
  // Only the runtime's own gated MLP (gated_mlp in blocks.cpp) is written out op by op; under
  // autocast (amp recipes) its rows include the 16-bit casts of the MLP input, which the no-grad
  // recompute makes as the forward did (runtime/model/autocast.h).
  const bool gated = m.mlp == MlpKind::swiglu || m.mlp == MlpKind::geglu;
  if (c.profile != Profile::zplan || !gated || m.layer_is_sparse(layer)) return o;
  const int64_t C = m.hidden;
  const int residual = std::max(c.residual_bytes, c.compute_bytes);
  // Forward without autograd: h (x + attention) and every tensor of the MLP's one expression
  // (its input, gate, act, up, product: the rows the MLP would save) plus down's output.
  o.nograd_mlp_peak.push_back({"nograd.residual_after_attention", residual * C, 0, 0, 1});
  for (const TensorRow& r : b.saved)
    if (is_mlp_row(r)) o.nograd_mlp_peak.push_back({"nograd." + r.name, r.bytes_per_token, r.bytes_per_sequence, r.fixed_bytes, r.count});
  o.nograd_mlp_peak.push_back({"nograd.mlp.down_out", static_cast<int64_t>(c.compute_bytes) * C, 0, 0, 1});
  // Backward: down's node releases its input (the product) before the multiply's node makes
  // d act and d up next to d product (the row mlp.grads, 3·cb·F).
  o.freed_before_mlp_grads.push_back("mlp.product");
  // Gemma's post_feedforward_layernorm runs on down's output once the MLP's expression has ended
  // (below its peak), and its backward nodes run first: their fp32 rows go before the MLP's grads.
  if (m.sandwich_norm)
    for (const TensorRow& r : b.saved)
      if (r.name.rfind("post_mlp_norm.", 0) == 0) o.freed_before_mlp_grads.push_back(r.name);
  for (const TensorRow& r : b.saved)
    if (is_mlp_row(r) && r.name != "mlp.product") o.mlp_saved.push_back(r.name);
  for (const TensorRow& r : b.backward_transient) (is_mlp_row(r) ? o.mlp_backward : o.attention_backward).push_back(r);
  o.recompute_output = {"checkpoint.recomputed_output", residual * C, 0, 0, 1};
  o.modelled = true;
  return o;
}

}  // namespace zplan

// The op order of a dense gated layer of zplan's runtime (see runtime_layer_order.h for the table).
#include "planner/memory/runtime_layer_order.h"

#include <algorithm>

namespace zplan {
namespace {

bool is_mlp_row(const TensorRow& r) { return r.name.rfind("mlp.", 0) == 0 || r.name.rfind("moe.", 0) == 0; }

BackwardOp make(const std::string& name, int64_t per_token) { return {BackwardOp::Kind::alloc, {name, per_token, 0, 0, 1}, "", {}}; }
BackwardOp release(const std::string& name) { return {BackwardOp::Kind::free, {}, name, {}}; }
BackwardOp arrive(std::vector<TensorRole> roles) { return {BackwardOp::Kind::weight_grads, {}, "", std::move(roles)}; }

// A sparse layer of zplan's runtime (see the header's table).
RuntimeLayerOrder sparse_layer_order(const ModelSpec& m, const ExecContext& c, const BlockActivations& b) {
  RuntimeLayerOrder o;
  const int64_t C = m.hidden, F = m.moe.expert_ffn, K = m.moe.experts_per_token;
  const int residual = std::max(c.residual_bytes, c.compute_bytes);
  int64_t norm_out = c.compute_bytes, eb = c.compute_bytes;  // the experts' dtype: their input's
  for (const TensorRow& r : b.saved)
    if (r.name == "moe.experts.gate_up_out") eb = r.bytes_per_token / (2 * F * K);
  for (const TensorRow& r : b.saved)
    if (r.name.rfind("moe.router_input", 0) == 0) norm_out = r.bytes_per_token / C;
  o.nograd_mlp_peak.push_back({"nograd.residual_after_attention", residual * C, 0, 0, 1});
  o.nograd_mlp_peak.push_back({"nograd.moe.input", norm_out * C, 0, 0, 1});
  if (m.moe.shared_experts > 0) o.nograd_mlp_peak.push_back({"nograd.moe.shared_out", c.compute_bytes * C, 0, 0, 1});
  o.nograd_mlp_peak.push_back({"nograd.moe.experts", eb * std::max(C + 4 * F, 3 * C + 3 * F) * K, 0, 0, 1});
  // index_select(inv_perm)'s backward scatters into a zero [S,C]; the weight multiply's makes the
  // down output's gradient and grad * out (summed to [S] for the routing weights).
  o.experts_backward = {
      make("moe.grad.unsorted", eb * C * K),   make("moe.grad.down_out", eb * C * K),
      make("moe.grad.times_out", eb * C * K),  release("moe.grad.times_out"),
      release("moe.grad.unsorted"),            release("moe.experts.down_out"),
      make("moe.grad.product", eb * F * K),    arrive({TensorRole::expert_down}),
      release("moe.grad.down_out"),            release("moe.experts.product"),
      make("moe.grad.act", eb * F * K),        make("moe.grad.up", eb * F * K),
      release("moe.grad.product"),             release("moe.experts.act_out"),
      make("moe.grad.gate", eb * F * K),       release("moe.grad.act"),
      release("moe.experts.gate_up_out"),      make("moe.grad.gate_up", 2 * eb * F * K),
      release("moe.grad.gate"),                release("moe.grad.up"),
      arrive({TensorRole::expert_gate, TensorRole::expert_up}), make("moe.grad.input", eb * C * K),
      release("moe.grad.gate_up"),             release("moe.experts.input"),
      make("moe.grad.gathered", eb * C * K),   release("moe.grad.input"),  // index_select(perm)'s
      release("moe.grad.gathered")};
  // The router's and the shared expert's nodes: their rows of the block table, as a dense MLP's.
  for (const TensorRow& r : b.saved)
    if (is_mlp_row(r) && r.name.rfind("moe.experts.", 0) != 0) o.mlp_saved.push_back(r.name);
  for (const TensorRow& r : b.backward_transient)
    if (r.name != "moe.expert_grads") (is_mlp_row(r) ? o.mlp_backward : o.attention_backward).push_back(r);
  o.recompute_output = {"checkpoint.recomputed_output", residual * C, 0, 0, 1};
  o.modelled = true;
  return o;
}

}  // namespace

RuntimeLayerOrder runtime_layer_order(const ModelSpec& m, int64_t layer, const ExecContext& c,
                                      const BlockActivations& b) {
  RuntimeLayerOrder o;
  // Only the runtime's own gated MLP (gated_mlp in blocks.cpp) is written out op by op; under
  // autocast (amp recipes) its rows include the 16-bit casts of the MLP input, which the no-grad
  // recompute makes as the forward did (runtime/model/autocast.h).
  if (c.profile != Profile::zplan) return o;
  if (m.layer_is_sparse(layer)) return c.experts == ExpertsImpl::eager ? o : sparse_layer_order(m, c, b);
  const bool gated = m.mlp == MlpKind::swiglu || m.mlp == MlpKind::geglu;
  if (!gated) return o;
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

// chunked_loss.cpp: lm_head + cross-entropy over token slices, gradients computed in forward (see
// chunked_loss.h for the mechanism and what stays alive).
#include "runtime/model/chunked_loss.h"

#include <algorithm>

#include "runtime/model/fused_cross_entropy.h"

namespace zplan::rt {

namespace {

// One pass over the slices of h [N, C] with targets y [N]. Returns the mean loss over the targets
// that are not -100 (fp32 scalar). grad_h [N, C] / grad_w [V, C]: filled when defined (grad_w must
// start at zero: the slices add into it).
at::Tensor slice_loop(const at::Tensor& h, const at::Tensor& w, const at::Tensor& y, int64_t chunks,
                      const at::Tensor& grad_h, const at::Tensor& grad_w) {
  const int64_t n = h.size(0);
  const at::Tensor valid = y.ne(-100).to(at::kFloat);  // [N] 1 where a target counts
  // 1/n_valid stays on the device: no host synchronisation inside the step.
  const at::Tensor inv_count = valid.sum().reciprocal();
  at::Tensor loss_sum = at::zeros({}, h.options().dtype(at::kFloat));
  const bool want_grads = grad_h.defined() || grad_w.defined();
  const int64_t rows = (n + chunks - 1) / chunks;
  for (int64_t start = 0; start < n; start += rows) {
    const int64_t len = std::min(rows, n - start);
    const at::Tensor hc = h.narrow(0, start, len);                 // [n, C]
    const at::Tensor keep = valid.narrow(0, start, len);           // [n]
    const at::Tensor yc = y.narrow(0, start, len).clamp_min(0).unsqueeze(1);  // [n, 1]; ignored rows read column 0, masked
    // logits in the compute dtype (as lm_head), then fp32 (as logits.float()); for fp32 the same tensor.
    at::Tensor z = at::mm(hc, w.t()).to(at::kFloat);               // [n, V] fp32
    const at::Tensor lse = at::logsumexp(z, {1});                  // [n]
    const at::Tensor picked = z.gather(1, yc).squeeze(1);          // [n] logit of the target
    loss_sum.add_(((lse - picked) * keep).sum());
    if (!want_grads) continue;
    // d mean_loss / d z = (softmax(z) - onehot(y)) * keep / n_valid, built in place in z.
    z.sub_(lse.unsqueeze(1)).exp_();
    z.scatter_add_(1, yc, -keep.unsqueeze(1));
    z.mul_((keep * inv_count).unsqueeze(1));
    at::Tensor g = z.to(h.scalar_type());                          // [n, V] compute dtype (z itself for fp32)
    z = at::Tensor();                                              // bf16/fp16: free the fp32 slice first
    if (grad_h.defined()) {
      at::Tensor rows_out = grad_h.narrow(0, start, len);
      at::mm_out(rows_out, g, w);                                  // [n, V] x [V, C]
    }
    if (grad_w.defined()) grad_w.addmm_(g.t(), hc);                // += [V, n] x [n, C]
  }
  return loss_sum * inv_count;
}

// The autograd node: gradients are computed in forward and held; backward scales them by the
// incoming gradient (loss scale and 1/(accumulation · ranks) in the trainer) and hands them over.
struct ChunkedLinearCrossEntropyFn : public torch::autograd::Function<ChunkedLinearCrossEntropyFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& hidden,
                            const at::Tensor& head_w, const at::Tensor& targets, int64_t chunks) {
    const int64_t c = hidden.size(-1);
    at::Tensor grad_h = hidden.requires_grad() ? at::empty({hidden.numel() / c, c}, hidden.options()) : at::Tensor();
    at::Tensor grad_w = head_w.requires_grad() ? at::zeros_like(head_w) : at::Tensor();
    at::Tensor loss = slice_loop(hidden.reshape({-1, c}), head_w, targets.reshape({-1}), chunks, grad_h, grad_w);
    ctx->saved_data["grad_h"] = grad_h.defined() ? grad_h.view(hidden.sizes()) : grad_h;
    ctx->saved_data["grad_w"] = grad_w;
    return loss;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    at::Tensor grad_h = ctx->saved_data["grad_h"].toTensor();
    at::Tensor grad_w = ctx->saved_data["grad_w"].toTensor();
    ctx->saved_data.clear();  // the node no longer holds them: AccumulateGrad may take grad_w as is
    const at::Tensor& scale = grads[0];
    if (grad_h.defined()) grad_h.mul_(scale);
    if (grad_w.defined()) grad_w.mul_(scale);
    return {grad_h, grad_w, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor chunked_linear_cross_entropy(const at::Tensor& hidden, const at::Tensor& head_w,
                                        const at::Tensor& targets, int64_t chunks) {
  chunks = std::max<int64_t>(1, chunks);
  if (!at::GradMode::is_enabled() || (!hidden.requires_grad() && !head_w.requires_grad())) {
    const int64_t c = hidden.size(-1);
    return slice_loop(hidden.reshape({-1, c}), head_w, targets.reshape({-1}), chunks, at::Tensor(), at::Tensor());
  }
  return ChunkedLinearCrossEntropyFn::apply(hidden, head_w, targets, chunks);
}

at::Tensor lm_loss(TransformerModel& model, const at::Tensor& ids, const at::Tensor& targets,
                   int64_t chunks, at::Tensor* logits, uint64_t* loss_path_bytes) {
  if (chunks <= 1) {
    at::Tensor out = model.forward(ids);
    at::Tensor loss = model.fused_cross_entropy() ? fused_cross_entropy_or_undefined(out, targets) : at::Tensor();
    const bool fused = loss.defined();
    if (!fused) loss = causal_lm_loss(out, targets);
    // logits (compute dtype) + what the loss keeps for backward: zplan's kernel an fp32 log-sum-exp
    // and weight per token, transformers' path the fp32 log-probs.
    if (loss_path_bytes)
      *loss_path_bytes = out.nbytes() + static_cast<uint64_t>(fused ? targets.numel() * 8 : out.numel() * 4);
    if (logits) *logits = std::move(out);
    return loss;
  }
  const at::Tensor hidden = model.forward_hidden(ids);
  const at::Tensor& head_w = model.head_weight();
  at::Tensor loss = chunked_linear_cross_entropy(hidden, head_w, targets, chunks);
  if (loss_path_bytes) {
    const bool grads = at::GradMode::is_enabled();
    *loss_path_bytes = (grads && hidden.requires_grad() ? hidden.nbytes() : 0) +
                       (grads && head_w.requires_grad() ? head_w.nbytes() : 0);
  }
  if (logits) *logits = at::Tensor();
  return loss;
}

}  // namespace zplan::rt

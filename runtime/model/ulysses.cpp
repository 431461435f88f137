// ulysses.cpp: the two all-to-all exchanges of Ulysses (ulysses.h) as autograd functions.
#include "runtime/model/ulysses.h"

namespace zplan::rt {
namespace {

// [B, H, Tl, HD] -> [B, H/P, P*Tl, HD]: send head block j to rank j, receive token block i from rank i.
at::Tensor seq_to_heads_raw(const at::Tensor& x, const SequenceParallel& sp) {
  const int64_t p = sp.degree, b = x.size(0), h = x.size(1), tl = x.size(2), hd = x.size(3);
  const at::Tensor send = x.reshape({b, p, h / p, tl, hd}).permute({1, 0, 2, 3, 4}).contiguous();
  at::Tensor recv = at::empty_like(send);  // [P (token block), B, H/P, Tl, HD]
  sp.all_to_all(send.view({-1}), recv);
  return recv.permute({1, 2, 0, 3, 4}).reshape({b, h / p, p * tl, hd});
}

// [B, H/P, T, HD] -> [B, H, T/P, HD]: send token block j to rank j, receive head block i from rank i.
at::Tensor heads_to_seq_raw(const at::Tensor& x, const SequenceParallel& sp) {
  const int64_t p = sp.degree, b = x.size(0), hl = x.size(1), t = x.size(2), hd = x.size(3);
  const at::Tensor send = x.reshape({b, hl, p, t / p, hd}).permute({2, 0, 1, 3, 4}).contiguous();
  at::Tensor recv = at::empty_like(send);  // [P (head block), B, H/P, T/P, HD]
  sp.all_to_all(send.view({-1}), recv);
  return recv.permute({1, 0, 2, 3, 4}).reshape({b, p * hl, t / p, hd});
}

struct ExchangeFn : public torch::autograd::Function<ExchangeFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            int64_t sp_address, bool seq_to_heads) {
    ctx->saved_data["sp"] = sp_address;
    ctx->saved_data["dir"] = seq_to_heads;
    const auto& sp = *reinterpret_cast<const SequenceParallel*>(sp_address);
    return seq_to_heads ? seq_to_heads_raw(x, sp) : heads_to_seq_raw(x, sp);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto& sp = *reinterpret_cast<const SequenceParallel*>(ctx->saved_data["sp"].toInt());
    const at::Tensor g = grads[0].contiguous();
    at::Tensor back = ctx->saved_data["dir"].toBool() ? heads_to_seq_raw(g, sp) : seq_to_heads_raw(g, sp);
    return {back, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor ulysses_seq_to_heads(const at::Tensor& x, const SequenceParallel& sp) {
  return ExchangeFn::apply(x, reinterpret_cast<int64_t>(&sp), true);
}

at::Tensor ulysses_heads_to_seq(const at::Tensor& x, const SequenceParallel& sp) {
  return ExchangeFn::apply(x, reinterpret_cast<int64_t>(&sp), false);
}

}  // namespace zplan::rt

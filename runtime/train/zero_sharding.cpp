// zero_sharding.cpp: ZeroStates (zero_sharding.h): chunk bookkeeping, bucketed reduce-scatter,
// all-reduce and all-gather, and the layer hooks that gather and release ZeRO-3 parameters.
#include "runtime/train/zero_sharding.h"

#include <algorithm>

namespace zplan::rt {

ZeroStates::ZeroStates(std::vector<at::Tensor> params, std::vector<std::vector<size_t>> groups,
                       Communicator& comm, int stage, int64_t bucket_elems, int64_t persistence_threshold)
    : groups_(std::move(groups)), comm_(comm), stage_(stage),
      bucket_elems_(std::max<int64_t>(1, bucket_elems)), world_(comm.world_size()), rank_(comm.rank()) {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    Slot s;
    s.param = params[i];
    s.shape = params[i].sizes().vec();
    s.numel = params[i].numel();
    s.chunk_elems = (s.numel + world_ - 1) / world_;
    if (stage_ >= 1) {
      // The owned chunk of the zero-padded flat parameter.
      at::Tensor padded = at::zeros({s.chunk_elems * world_}, params[i].options().requires_grad(false));
      padded.narrow(0, 0, s.numel).copy_(params[i].detach().reshape({-1}));
      s.chunk = padded.narrow(0, rank_ * s.chunk_elems, s.chunk_elems).clone().requires_grad_(true);
    }
    s.released = stage_ >= 3 && s.numel >= persistence_threshold;
    if (stage_ >= 1 && !s.released) persistent_.push_back(i);
    slots_.push_back(std::move(s));
    all_.push_back(i);
  }
  for (Slot& s : slots_) opt_tensors_.push_back(stage_ >= 1 ? s.chunk : s.param);
  release_params(all_);
}

template <typename Fn>
void ZeroStates::for_each_bucket(const std::vector<size_t>& members, Fn fn) const {
  std::vector<size_t> bucket;
  std::vector<int64_t> offsets;
  int64_t elems = 0;  // per-rank elements in the bucket
  auto flush = [&] {
    if (!bucket.empty()) fn(bucket, offsets, elems);
    bucket.clear();
    offsets.clear();
    elems = 0;
  };
  for (size_t i : members) {
    const Slot& s = slots_[i];
    if (!bucket.empty() && (elems + s.chunk_elems) * world_ > bucket_elems_) flush();
    bucket.push_back(i);
    offsets.push_back(elems);
    elems += s.chunk_elems;
  }
  flush();
}

void ZeroStates::reduce_scatter_grads(const std::vector<size_t>& members) {
  std::vector<size_t> with_grad;
  for (size_t i : members)
    if (slots_[i].param.grad().defined()) with_grad.push_back(i);
  at::NoGradGuard no_grad;
  for_each_bucket(with_grad, [&](const std::vector<size_t>& bucket, const std::vector<int64_t>& off,
                                 int64_t elems) {
    const at::TensorOptions o = slots_[bucket[0]].param.grad().options();  // (grads are dropped below)
    at::Tensor in = at::zeros({world_, elems}, o);
    for (size_t k = 0; k < bucket.size(); ++k) {
      Slot& s = slots_[bucket[k]];
      // Rank block j of the bucket holds chunk j of every member (the tail of the last chunk
      // stays zero: the padding).
      const at::Tensor g = s.param.grad().reshape({-1});
      at::Tensor dst = in.narrow(1, off[k], s.chunk_elems);
      const int64_t full_rows = s.numel / s.chunk_elems, rest = s.numel % s.chunk_elems;
      if (full_rows > 0)
        dst.narrow(0, 0, full_rows).copy_(g.narrow(0, 0, full_rows * s.chunk_elems).view({full_rows, s.chunk_elems}));
      if (rest > 0) dst[full_rows].narrow(0, 0, rest).copy_(g.narrow(0, full_rows * s.chunk_elems, rest));
      s.param.mutable_grad() = at::Tensor();  // the full gradient is done with
    }
    at::Tensor out = at::empty({elems}, o);
    comm_.reduce_scatter_sum(in.view({-1}), out);
    for (size_t k = 0; k < bucket.size(); ++k) {
      Slot& s = slots_[bucket[k]];
      const at::Tensor part = out.narrow(0, off[k], s.chunk_elems);
      if (s.chunk.grad().defined()) s.chunk.mutable_grad().add_(part);
      else s.chunk.mutable_grad() = part.clone();
    }
  });
}

void ZeroStates::all_reduce_grads(const std::vector<size_t>& members) {
  std::vector<size_t> with_grad;
  for (size_t i : members)
    if (slots_[i].param.grad().defined()) with_grad.push_back(i);
  at::NoGradGuard no_grad;
  // Same bucket bounds as the other collectives (chunk layout is irrelevant for a sum).
  for_each_bucket(with_grad, [&](const std::vector<size_t>& bucket, const std::vector<int64_t>&, int64_t) {
    int64_t total = 0;
    for (size_t i : bucket) total += slots_[i].numel;
    at::Tensor flat = at::empty({total}, slots_[bucket[0]].param.grad().options());
    int64_t at_elem = 0;
    for (size_t i : bucket) {
      flat.narrow(0, at_elem, slots_[i].numel).copy_(slots_[i].param.grad().reshape({-1}));
      at_elem += slots_[i].numel;
    }
    comm_.all_reduce_sum(flat);
    at_elem = 0;
    for (size_t i : bucket) {
      at::Tensor g = slots_[i].param.mutable_grad();
      g.copy_(flat.narrow(0, at_elem, slots_[i].numel).view(g.sizes()));
      at_elem += slots_[i].numel;
    }
  });
}

void ZeroStates::gather_params(const std::vector<size_t>& all_members, bool into_existing) {
  at::NoGradGuard no_grad;
  // Whole parameters (stages 1/2, persistent ones at 3) are refreshed after the step only.
  std::vector<size_t> members;
  for (size_t i : all_members)
    if (slots_[i].released != into_existing) members.push_back(i);
  for_each_bucket(members, [&](const std::vector<size_t>& bucket, const std::vector<int64_t>& off,
                               int64_t elems) {
    const at::TensorOptions o = slots_[bucket[0]].chunk.options().requires_grad(false);
    at::Tensor in = at::empty({elems}, o);
    for (size_t k = 0; k < bucket.size(); ++k)
      in.narrow(0, off[k], slots_[bucket[k]].chunk_elems).copy_(slots_[bucket[k]].chunk.detach());
    at::Tensor out = at::empty({world_ * elems}, o);
    comm_.all_gather(in, out);
    const at::Tensor blocks = out.view({world_, elems});
    for (size_t k = 0; k < bucket.size(); ++k) {
      Slot& s = slots_[bucket[k]];
      at::Tensor full = blocks.narrow(1, off[k], s.chunk_elems).reshape({-1}).narrow(0, 0, s.numel);
      if (into_existing) s.param.detach().view({-1}).copy_(full);
      else s.param.set_data(full.clone().view(s.shape));
    }
  });
}

void ZeroStates::release_params(const std::vector<size_t>& members) {
  for (size_t i : members) {
    Slot& s = slots_[i];
    if (s.released) s.param.set_data(at::empty({0}, s.param.options().requires_grad(false)));
  }
}

void ZeroStates::finish_backward(bool accumulation_boundary) {
  const std::vector<size_t>& outer = groups_.back();
  if (stage_ >= 2) {
    reduce_scatter_grads(outer);
    if (stage_ >= 3) release_params(outer);
    return;
  }
  if (!accumulation_boundary) return;  // grads accumulate locally until the boundary (no_sync)
  if (stage_ == 1) reduce_scatter_grads(all_);
  else all_reduce_grads(all_);
}

void ZeroStates::after_step() { gather_params(persistent_, /*into_existing=*/true); }

void ZeroStates::gather_all_params() {
  gather_params(all_, false);
}

void ZeroStates::before_forward(int64_t group) {
  if (stage_ >= 3) gather_params(groups_[static_cast<size_t>(group)], false);
}
void ZeroStates::after_forward(int64_t group) {
  // The outer group (embeddings, head) stays until the end of backward.
  if (stage_ >= 3 && static_cast<size_t>(group) + 1 < groups_.size())
    release_params(groups_[static_cast<size_t>(group)]);
}
void ZeroStates::before_backward(int64_t group) {
  if (stage_ >= 3 && static_cast<size_t>(group) + 1 < groups_.size())
    gather_params(groups_[static_cast<size_t>(group)], false);
}
void ZeroStates::after_backward(int64_t group) {
  if (stage_ < 2) return;
  reduce_scatter_grads(groups_[static_cast<size_t>(group)]);
  if (stage_ >= 3) release_params(groups_[static_cast<size_t>(group)]);
}

uint64_t ZeroStates::resident_param_bytes() const {
  uint64_t n = 0;
  for (const Slot& s : slots_)
    n += s.released ? s.chunk.nbytes() : s.param.nbytes();
  return n;
}

uint64_t ZeroStates::grad_bytes() const {
  uint64_t n = 0;
  for (const Slot& s : slots_) {
    if (s.param.grad().defined()) n += s.param.grad().nbytes();
    if (s.chunk.defined() && s.chunk.grad().defined()) n += s.chunk.grad().nbytes();
  }
  return n;
}

}  // namespace zplan::rt

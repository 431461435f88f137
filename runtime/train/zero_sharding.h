// zero_sharding.h: ZeRO stages 0-3 over c10d (communicator.h) for zplan's runtime, with the model's
// parameter groups (one per decoder layer, then one for embeddings, final norm and head).
//
// Every parameter is flattened, padded to a multiple of the world size W and cut into W equal
// chunks; rank r owns chunk r (DeepSpeed ZeRO-3's per-parameter partitioning; its stages 1/2 cut one
// flat buffer instead, which differs only in padding). What each stage keeps per rank:
//   0  full params, full grads all-reduced in buckets at the accumulation boundary, full optimizer
//   1  full params and grads; at the accumulation boundary grads are reduce-scattered into the
//      owned chunks, the optimizer (fp32 master, Adam m and v) holds only those, and the updated
//      chunks are all-gathered back into the full params after the step
//   2  as 1, but each layer's grads are reduce-scattered (in buckets of `bucket_elems`) as soon as
//      that layer's backward is done, every micro-step, and the full grads are dropped at once
//   3  as 2, and the 16-bit params themselves live only as chunks: a layer's params are all-gathered
//      before its forward and again before its backward, and released after each; the embedding /
//      head group stays gathered from the start of forward to the end of backward. Parameters of
//      fewer than `persistence_threshold` elements stay whole (DeepSpeed's
//      stage3_param_persistence_threshold): they are handled as in stage 2
// Buckets are laid out [W][sum of the chunks of the params in it], so one reduce-scatter or
// all-gather serves many parameters and every rank's part is contiguous.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/dist/communicator.h"
#include "runtime/model/transformer.h"

namespace zplan::rt {

class ZeroStates : public ParamGroupHooks {
 public:
  // params: the model's leaves (model order); groups: indices into params, one vector per hook group.
  ZeroStates(std::vector<at::Tensor> params, std::vector<std::vector<size_t>> groups,
             Communicator& comm, int stage, int64_t bucket_elems, int64_t persistence_threshold = 0);

  // What the optimizer updates: the full params (stage 0) or this rank's chunks (stages 1-3),
  // each a leaf whose .grad() holds the (reduced) gradient.
  const std::vector<at::Tensor>& optimizer_tensors() const { return opt_tensors_; }
  // After each micro-step's backward: reduces what the hooks did not (stages 0/1 only at the
  // accumulation boundary, the outer group for 2/3) and releases the outer group (stage 3).
  void finish_backward(bool accumulation_boundary);
  // After the optimizer step: gathers the updated chunks into the full params (stages 1/2).
  void after_step();
  // Stage 3: gathers every parameter (to read the trained model); otherwise a no-op.
  void gather_all_params();

  uint64_t resident_param_bytes() const;  // full params, or the owned chunks (stage 3)
  uint64_t grad_bytes() const;            // full grads still alive + gradient chunks

  void before_forward(int64_t group) override;
  void after_forward(int64_t group) override;
  void before_backward(int64_t group) override;
  void after_backward(int64_t group) override;

 private:
  struct Slot {
    at::Tensor param;       // the model's leaf (full, or empty between uses at stage 3)
    at::Tensor chunk;       // owned chunk [chunk_elems] (stages 1-3), a leaf for the optimizer
    std::vector<int64_t> shape;
    int64_t numel = 0, chunk_elems = 0;
    bool released = false;  // stage 3 and above the persistence threshold
  };
  // Packs the listed params into buckets and runs `fn(bucket members, offsets, elements)` on each.
  template <typename Fn>
  void for_each_bucket(const std::vector<size_t>& members, Fn fn) const;
  void reduce_scatter_grads(const std::vector<size_t>& members);
  void all_reduce_grads(const std::vector<size_t>& members);
  void gather_params(const std::vector<size_t>& members, bool into_existing);
  void release_params(const std::vector<size_t>& members);

  std::vector<Slot> slots_;
  std::vector<std::vector<size_t>> groups_;
  std::vector<size_t> all_, persistent_;
  std::vector<at::Tensor> opt_tensors_;
  Communicator& comm_;
  int stage_;
  int64_t bucket_elems_;
  int world_, rank_;
};

}  // namespace zplan::rt

// communicator.h: the runtime's collectives over libtorch's c10d: ProcessGroupNCCL for CUDA tensors,
// ProcessGroupGloo for CPU tensors, both after a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT
// (torchrun's contract, launch_env.h). One rank needs no process group: every call is the identity.
//
// Failures are bounded and loud rather than returned: a collective that throws (a peer's socket
// closed, Gloo's timeout) or that has not finished `timeout_seconds` after it started (a watchdog
// thread; NCCL waits are made blocking for it) prints which rank saw it, the collective and the
// training phase, then ends the process with exit status 4 (docs/runtime.md, "Faults"). Tensors
// passed in are flat and contiguous; 16-bit tensors travel bit-exact through Gloo (which lacks
// bf16) and are summed in fp32 there.
#pragma once

#include <memory>
#include <string>

#include "runtime/dist/launch_env.h"
#include "runtime/torch_compat.h"

namespace zplan::rt {

class Communicator {
 public:
  // Rendezvous and process group creation; both bounded by timeout_seconds. device picks the
  // backend: CUDA -> NCCL (when this libtorch has it), CPU -> Gloo.
  static std::unique_ptr<Communicator> connect(const LaunchEnv& env, at::Device device,
                                               int timeout_seconds);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  const char* backend() const;  // "nccl", "gloo" or "none"
  // The training phase named in failure messages (a string literal: kept by pointer).
  void set_phase(const char* phase);

  void all_reduce_sum(at::Tensor& t);
  // in [W*n] -> out [n]: the sum over ranks of block `rank` of in.
  void reduce_scatter_sum(const at::Tensor& in, at::Tensor& out);
  // in [n] -> out [W*n]: every rank's in, in rank order.
  void all_gather(const at::Tensor& in, at::Tensor& out);
  // in [W*n] -> out [W*n]: block j of in goes to rank j; block i of out came from rank i.
  void all_to_all(const at::Tensor& in, at::Tensor& out);
  void barrier();
  // Whether any rank passes true (fp16 overflow checks over sharded gradients).
  bool any(bool mine);
  // Blocks of `group_size` consecutive ranks as communicators of their own (Ulysses groups: rank r
  // is rank r % group_size of block r / group_size); every rank must call it. Null when the block
  // is the whole world (use this communicator) or there is one rank.
  std::unique_ptr<Communicator> split_blocks(int group_size);
  // Leave the process group undestroyed (a failed run must not block in its destructor at exit).
  void abandon();

  struct Impl;

 private:
  Communicator(int rank, int world_size);
  int rank_;
  int world_size_;
  std::unique_ptr<Impl> impl_;
};

// Prints "zplan-run: rank R/W: <what> in phase <phase>: <cause>" and exits with status 4 at once
// (no destructors: peers may be gone and a process group's destructor could block).
[[noreturn]] void exit_rank_failure(int rank, int world_size, const std::string& what,
                                    const char* phase, const std::string& cause);

}  // namespace zplan::rt

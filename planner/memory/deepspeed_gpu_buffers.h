// GPU-side byte formulas of DeepSpeed 0.19 buffers that depend on the parameter table rather than
// on a config size alone (the policy, planner/framework/deepspeed_policy.cpp, places them in the
// step). Each names the source line it follows.
#pragma once
#include <cstdint>
#include <vector>

#include "planner/memory/params.h"

namespace zplan {

// Elements of the model's largest parameter as transformers holds it (fused tensors such as
// experts.gate_up_proj counted whole): stage_1_and_2.py's largest_param_numel.
int64_t largest_parameter_elements(const ModelTables& tables);

// ZeRO-1/2 with offload_optimizer: temp_grad_buffer_for_gpu_offload, torch.zeros(largest_param_numel,
// dtype=16-bit model dtype) on the GPU, created in the optimizer's __init__ and kept for the run.
uint64_t zero12_offload_gpu_grad_buffer_bytes(const ModelTables& tables, int grad_bytes);

// ZeRO-3 from the second step on (partitioned_param_coordinator.py, trace COMPLETE): releasing a
// module keeps every parameter that the recorded trace uses again within max_reuse_distance
// parameter elements (__params_to_release walks the trace from the next module, summing each
// module's parameters, and stops at the threshold). Forward visits embedding, blocks 0..L-1,
// final norm, lm_head; backward the reverse, so a tensor of block l used in forward is next used
// in backward after 2 x (the tensors after it in its block + the later blocks + final norm +
// lm_head) elements. Persistent parameters (< param_persistence_threshold) are never released and
// are not counted here.
struct Zero3Retention {
  std::vector<int64_t> block_elements;  // per block: elements kept gathered from its forward to its backward
  int64_t embedding_elements = 0;       // token embedding kept from the forward's start to backward's end
};
Zero3Retention zero3_reuse_retention(const std::vector<ParamTensor>& tensors, int64_t blocks, bool tied_embeddings,
                                     int64_t persistence_threshold, int64_t max_reuse_distance);

}  // namespace zplan

// DeepSpeed's ZeRO-Offload host buffers (see deepspeed_host_buffers.h). One optimizer parameter
// group is assumed (deepspeed.initialize(model.parameters()) and the Trainer's weight-decay group
// alike: the Trainer's second group, norms and biases, is a few hundred kilobytes).
#include "planner/memory/deepspeed_host_buffers.h"

#include <algorithm>

#include "planner/memory/deepspeed_gpu_buffers.h"
#include "planner/memory/pinned_host.h"

namespace zplan {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / std::max<int64_t>(1, b); }

// ZeRO-1/2 (stage_1_and_2.py, cpu_offload with pin_memory): the fp32 master partition, a 16-bit
// copy used to send updated weights back, the fp32 gradient partition, one 16-bit staging buffer
// sized for the largest parameter; DeepSpeedCPUAdam's exp_avg and exp_avg_sq are ordinary
// (pageable) tensors created at the first step.
void zero12(std::vector<HostBuffer>& out, int64_t partition, int64_t largest, const OffloadShape& s) {
  const uint64_t n = static_cast<uint64_t>(partition);
  out.push_back({"single_partition_of_fp32_groups", HostBufferKind::optimizer, 4 * n, true});
  out.push_back({"param_buffer_of_bit16_for_cpu_offload_groups", HostBufferKind::staging, s.param_bytes * n, true});
  out.push_back({"fp32 partition .grad", HostBufferKind::optimizer, 4 * n, true});
  out.push_back({"temp_grad_buffer_for_cpu_offload", HostBufferKind::staging,
                 s.param_bytes * static_cast<uint64_t>(largest), true});
  out.push_back({"DeepSpeedCPUAdam exp_avg + exp_avg_sq", HostBufferKind::optimizer, 8 * n, false});
}

// ZeRO-3 (stage3.py, partition_parameters.py).
void zero3(std::vector<HostBuffer>& out, const std::vector<ParamTensor>& tensors, int64_t partition,
           const OffloadShape& s) {
  const uint64_t n = static_cast<uint64_t>(partition);
  if (s.offload_params) {
    // Partitioning the model pins each parameter's shard on the host one by one; the shards are
    // then copied into one flat pinned buffer per group and the per-shard blocks stay cached in
    // the host allocator. Parameters under the persistence threshold stay whole on the GPU.
    for (const ParamTensor& t : tensors) {
      if (t.elements < s.param_persistence_threshold) continue;
      out.push_back({"partitioned parameter (cached)", HostBufferKind::params,
                     s.param_bytes * static_cast<uint64_t>(ceil_div(t.elements, s.data_parallel)), true});
    }
    out.push_back({"param_groups_fp16_flat_cpu_memory", HostBufferKind::params, s.param_bytes * n, true});
  }
  if (s.offload_optimizer) {
    out.push_back({"grad_partitions_flat_buffer", HostBufferKind::staging, s.param_bytes * n, true});
    // fp32 master, Adam's two moments: pageable. The fp32 gradient of each sub-group is pinned.
    out.push_back({"fp32_partitioned_groups_flat", HostBufferKind::optimizer, 4 * n, false});
    out.push_back({"DeepSpeedCPUAdam exp_avg + exp_avg_sq", HostBufferKind::optimizer, 8 * n, false});
    for (int64_t left = partition; left > 0; left -= s.sub_group_size)
      out.push_back({"subgroup_gradient_buffer", HostBufferKind::optimizer,
                     4 * static_cast<uint64_t>(std::min(left, s.sub_group_size)), true});
  }
}

}  // namespace

uint64_t resident_bytes(const HostBuffer& b) { return b.pinned ? pinned_host_bytes(b.bytes) : b.bytes; }

std::vector<HostBuffer> deepspeed_offload_host_buffers(const ModelTables& tables,
                                                       const OffloadShape& shape) {
  std::vector<HostBuffer> out;
  if (!shape.offload_optimizer && !shape.offload_params) return out;
  const std::vector<ParamTensor>& tensors = tables.tensors;
  out.reserve(tensors.size() + 8);  // at most one per tensor and a few flat buffers (zero3's sub-groups aside)
  int64_t total = 0;
  for (const ParamTensor& t : tensors) total += t.elements;
  // largest_param_numel counts a fused tensor (experts.gate_up_proj) whole, as transformers holds it.
  const int64_t largest = largest_parameter_elements(tables);
  const int64_t partition = ceil_div(total, shape.data_parallel);
  if (shape.zero_stage >= 3) zero3(out, tensors, partition, shape);
  else if (shape.offload_optimizer) zero12(out, partition, largest, shape);
  return out;
}

}  // namespace zplan

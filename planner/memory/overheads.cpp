// Memory outside the caching allocator (see overheads.h). The constants are measured, not fitted:
// tools/hf_reference/measure_hf.py records (total - free) - reserved after the first step, zplan's
// runtime the same (runtime/), and overheads.h names the records each constant comes from.
#include "planner/memory/overheads.h"

#include "planner/framework/framework_policy.h"
#include "planner/memory/term_scales.h"

namespace zplan {

OutsideAllocator outside_allocator_bytes(const ExecContext& c) {
  OutsideAllocator o;
  const FrameworkCommunicators comms = framework_communicators(c);  // planner/framework/
  // The context depends on the stack: a Python process with torch and transformers loads more
  // kernel modules (and cuBLAS/cuDNN handles) than zplan's C++ runtime. DeepSpeed, DDP and FSDP2
  // run inside the Python process: they take the Hugging Face value (DeepSpeed's own communicator
  // is counted below).
  const uint64_t context = c.profile == Profile::zplan ? kZplanCudaContextBytes : kHfCudaContextBytes;
  o.cuda_context_bytes = static_cast<uint64_t>(static_cast<double>(context) * test_term_scales().cuda_context);
  if (c.world_size > 1) {
    // NCCL: communicator buffers (NCCL_BUFFSIZE 4 MiB per channel and peer) and proxy state.
    // Measured the same with 2 and with 4 ranks on NVLink H100s; more ranks, several nodes and
    // zplan's runtime with NCCL are not measured: taken as the same.
    o.nccl_bytes = kNcclCommunicatorBytes;
  } else if (comms.nccl_on_one_gpu) {
    // DeepSpeed initialises torch.distributed with NCCL and runs its collectives on one GPU too.
    o.nccl_bytes = kDeepSpeedOneGpuCommunicatorBytes;
  }
  // ZeRO-3's parameter coordinator runs its all-gathers on a stream and communicator of its own.
  // Measured on one GPU only; taken as the same on several.
  if (comms.parameter_gather_communicator) o.nccl_bytes += kDeepSpeedZero3CommunicatorBytes;
  // The modules DeepSpeedCPUAdam brings into the context (measured on one GPU).
  if (comms.cpu_optimizer_modules)
    o.cuda_context_bytes += static_cast<uint64_t>(static_cast<double>(kDeepSpeedCpuOptimizerModulesBytes) *
                                                  test_term_scales().cuda_context);
  o.nccl_bytes = static_cast<uint64_t>(static_cast<double>(o.nccl_bytes) * test_term_scales().communicator);
  return o;
}

}  // namespace zplan

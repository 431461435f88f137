// Scenario files (configs/*.yaml): the model, the machine and the training job in one place, plus
// optional strategy pins. Paths inside a scenario (model, cluster) are relative to the file.
//
//   model: qwen3-30b-a3b          # built-in name/alias, a model .yaml or a config.json
//   gpus: 8xH100                  # or  cluster: 8xh100 | path/to/cluster.yaml
//   host_ram: 12GiB               # optional, per node, overrides the cluster's
//   nodes: 1                      # optional, overrides the cluster's
//   seq: 16384                    # tokens per sequence (required)
//   global_batch: 16              # optional, sequences per optimizer step (0 = free)
//   attention: flash              # sdpa | flash | eager          (default sdpa)
//   profile: hf                   # zplan | hf                     (default hf: transformers)
//   framework: deepspeed          # deepspeed | fsdp2 | ddp | plain (default deepspeed)
//   experts: grouped_mm           # grouped_mm | eager (MoE experts as transformers runs them)
//   drop_logits: false            # true: the loop drops the model output before backward
//   use_cache: false              # true: config.use_cache left on while training
//   strategy:                     # optional; each key pins one dimension, the rest are searched
//     zero: 3                     # 0..3
//     offload_optimizer: cpu      # cpu | none
//     offload_params: none        # cpu | none
//     ckpt: full                  # none | full | N (checkpointed layers, 0..L)
//     cpu_ckpt: true
//     sp: 8                       # Ulysses degree
//     micro_batch: 1
//     grad_accum: 2
//     precision: bf16             # bf16 | fp16 | fp32 | amp-bf16 | amp-fp16 | bf16-pure
//   deepspeed:                    # optional: DeepSpeed's buffer sizes (elements) and switches,
//     reduce_bucket_size: 5e8     #   named as in its zero_optimization block (unknown keys rejected)
//     overlap_comm: true          #   also allgather_bucket_size, stage3_prefetch_bucket_size, ...
//   description: "..."            # free text, ignored
#pragma once
#include <string>

#include "planner/config/scenario.h"

namespace zplan {

// Errors name the file and the field (InputError -> exit 2).
Scenario load_scenario(const std::string& yaml_path);
// The same format, written out with every value resolved (strategy pins and DeepSpeed buffers
// included), so that load_scenario() of the text gives the same Scenario (--print-config).
std::string scenario_to_yaml(const Scenario& s);

}  // namespace zplan

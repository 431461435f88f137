// The keys DeepSpeed's config accepts, block by block (deepspeed/runtime/config.py and constants.py,
// runtime/zero/config.py and offload_config.py, runtime/activation_checkpointing/config.py, as of
// DeepSpeed 0.18). DeepSpeed's pydantic blocks refuse unknown keys; zplan refuses them everywhere,
// since a misspelt key silently keeps its default and the plan would be made for another config.
#pragma once
#include <string>
#include <vector>

namespace zplan {

const std::vector<std::string>& deepspeed_top_level_keys();
const std::vector<std::string>& deepspeed_zero_keys();                       // zero_optimization
const std::vector<std::string>& deepspeed_offload_keys(const std::string& block);  // offload_optimizer / offload_param
const std::vector<std::string>& deepspeed_precision_keys(const std::string& block);  // bf16 / bfloat16 / fp16 / torch_autocast
const std::vector<std::string>& deepspeed_checkpointing_keys();              // activation_checkpointing

}  // namespace zplan

// Hugging Face config.json -> ModelSpec, for the model types zplan knows: gpt2, llama, mistral,
// qwen2, qwen3, qwen3_moe, mixtral, gemma3 (multimodal; its text_config is used) and gemma3_text.
// Hub configs omit their type's defaults (Gemma ties embeddings without saying so, GPT-2's n_inner
// is null, gemma-3-27b-it leaves out vocab_size): those come from the transformers config classes.
// Fields that do not change memory (rope_scaling, torch_dtype, layer_types, sliding_window, ...)
// are ignored.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "planner/config/model_spec.h"

namespace zplan {

// `source` names the file in errors and becomes ModelSpec::source. An unknown model_type, a
// missing required field (all of them are listed in one error) or a wrong type -> InputError.
// The result is validated (validate_model).
ModelSpec model_from_hf_config(const nlohmann::json& config, const std::string& source);

// Reads and parses a config.json file (JSON syntax errors -> InputError naming the file).
ModelSpec load_hf_config_file(const std::string& path);

}  // namespace zplan

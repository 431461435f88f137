// hf_config_writer.h: a ModelSpec as Hugging Face's config.json (the inverse of hf_config.h), for
// checkpoints zplan's runtime writes (--save-hf), and the check that a checkpoint's config.json
// describes the model a run builds (--init-from with --model).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "planner/config/model_spec.h"

namespace zplan {

// The transformers model_type for a spec, decided by its fields (never its family label alone):
// gpt2 (Conv1D c_attn), qwen3_moe / mixtral (routed experts), qwen3 (q/k norms), qwen2 (qkv
// biases), mistral (family mistral), phi3 (fused projections), gemma3_text (Gemma blocks), else llama.
std::string hf_model_type(const ModelSpec& m);

// config.json for `m` with "torch_dtype"/"dtype" `dtype` ("bfloat16", "float16", "float32"):
// model_type, architectures, sizes, norm epsilon, RoPE base, tied embeddings, MoE settings.
// load_hf_config_file() of the result gives back the same tensors and numerics.
nlohmann::json hf_config_json(const ModelSpec& m, const std::string& dtype);

// InputError(config_path, field, ...) naming the first field where `from_config` (the
// checkpoint's config.json) and `model` (what --model gave) differ in something that changes
// the tensors or the numbers computed from them.
void check_hf_config_matches(const ModelSpec& from_config, const ModelSpec& model, const std::string& config_path);

}  // namespace zplan

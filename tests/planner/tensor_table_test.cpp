// The parameter table as Hugging Face tensors: every row carries its shape and HF name, and runs
// of rows sharing a name (fused tensors) concatenate into the shapes transformers' modules hold.
// The names and shapes below are written out from transformers' modelling files (GPT2Attention,
// LlamaAttention, Qwen3MoeExperts, Gemma3DecoderLayer, Phi3Attention), not from zplan's code.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "planner/io/hf_config.h"
#include "planner/io/model_loader.h"
#include "planner/memory/params.h"

using namespace zplan;

namespace {

using Shape = std::vector<int64_t>;

std::map<std::string, Shape> hf_shapes(const ModelSpec& m) {
  std::map<std::string, Shape> out;
  for (const HfTensor& t : hf_tensors(parameter_tensors(m))) out[t.name] = t.shape;
  return out;
}

}  // namespace

TEST_CASE("every built-in model: rows have shapes, HF names are unique, fused runs add up") {
  for (const std::string& name : builtin_model_names()) {
    CAPTURE(name);
    const ModelSpec m = load_model(name);
    const std::vector<ParamTensor> rows = parameter_tensors(m);
    int64_t rows_total = 0;
    for (const ParamTensor& r : rows) {
      int64_t product = 1;
      for (int64_t d : r.shape) product *= d;
      CHECK(product == r.elements);
      CHECK_FALSE(r.hf_name.empty());
      rows_total += r.elements;
    }
    std::set<std::string> seen;
    int64_t hf_total = 0;
    for (const HfTensor& t : hf_tensors(rows)) {
      CHECK(seen.insert(t.name).second);  // a name never comes back after another tensor
      int64_t product = 1;
      for (int64_t d : t.shape) product *= d;
      int64_t parts = 0;
      for (size_t i : t.rows) parts += rows[i].elements;
      CHECK(product == parts);
      hf_total += product;
    }
    CHECK(hf_total == rows_total);
    CHECK(hf_total == m.published_parameters);
  }
}

TEST_CASE("gpt2: GPT-2's module tree with Conv1D [in, out] weights and a fused c_attn") {
  const std::map<std::string, Shape> s = hf_shapes(load_model("gpt2"));
  CHECK(s.size() == 2 + 12 * 12 + 2);  // wte, wpe; 12 per block; ln_f weight and bias; lm_head tied
  CHECK(s.at("transformer.wte.weight") == Shape{50257, 768});
  CHECK(s.at("transformer.wpe.weight") == Shape{1024, 768});
  CHECK(s.at("transformer.h.0.ln_1.weight") == Shape{768});
  CHECK(s.at("transformer.h.0.ln_1.bias") == Shape{768});
  CHECK(s.at("transformer.h.0.attn.c_attn.weight") == Shape{768, 2304});
  CHECK(s.at("transformer.h.0.attn.c_attn.bias") == Shape{2304});
  CHECK(s.at("transformer.h.11.attn.c_proj.weight") == Shape{768, 768});
  CHECK(s.at("transformer.h.11.ln_2.bias") == Shape{768});
  CHECK(s.at("transformer.h.11.mlp.c_fc.weight") == Shape{768, 3072});
  CHECK(s.at("transformer.h.11.mlp.c_proj.weight") == Shape{3072, 768});
  CHECK(s.at("transformer.ln_f.weight") == Shape{768});
  CHECK(s.count("lm_head.weight") == 0);
}

TEST_CASE("llama and qwen: the Llama tree with nn.Linear [out, in] weights") {
  const std::map<std::string, Shape> l = hf_shapes(load_model("llama-3.1-8b"));
  CHECK(l.at("model.embed_tokens.weight") == Shape{128256, 4096});
  CHECK(l.at("model.layers.3.input_layernorm.weight") == Shape{4096});
  CHECK(l.at("model.layers.3.self_attn.q_proj.weight") == Shape{4096, 4096});
  CHECK(l.at("model.layers.3.self_attn.k_proj.weight") == Shape{1024, 4096});
  CHECK(l.at("model.layers.3.self_attn.o_proj.weight") == Shape{4096, 4096});
  CHECK(l.at("model.layers.3.post_attention_layernorm.weight") == Shape{4096});
  CHECK(l.at("model.layers.31.mlp.gate_proj.weight") == Shape{14336, 4096});
  CHECK(l.at("model.layers.31.mlp.down_proj.weight") == Shape{4096, 14336});
  CHECK(l.at("model.norm.weight") == Shape{4096});
  CHECK(l.at("lm_head.weight") == Shape{128256, 4096});
  const std::map<std::string, Shape> q = hf_shapes(load_model("qwen2.5-7b"));
  CHECK(q.at("model.layers.0.self_attn.q_proj.bias") == Shape{3584});
  CHECK(q.at("model.layers.0.self_attn.v_proj.bias") == Shape{512});
  CHECK(q.count("model.layers.0.self_attn.o_proj.bias") == 0);
  const std::map<std::string, Shape> q3 = hf_shapes(load_model("qwen3-8b"));
  CHECK(q3.at("model.layers.0.self_attn.q_norm.weight") == Shape{128});
}

TEST_CASE("qwen3-30b-a3b: experts as transformers holds them (gate_up_proj [E, 2*FE, C])") {
  const ModelSpec m = load_model("qwen3-30b-a3b");
  const std::map<std::string, Shape> s = hf_shapes(m);
  CHECK(s.at("model.layers.47.mlp.gate.weight") == Shape{128, 2048});
  CHECK(s.at("model.layers.47.mlp.experts.gate_up_proj") == Shape{128, 1536, 2048});
  CHECK(s.at("model.layers.47.mlp.experts.down_proj") == Shape{128, 2048, 768});
  // The planner's rows stay one per kind (the largest tensor and per-tensor buffers see them so).
  int gate_rows = 0;
  for (const ParamTensor& r : parameter_tensors(m))
    if (r.role == TensorRole::expert_gate) {
      ++gate_rows;
      CHECK(r.shape == Shape{128, 768, 2048});
      CHECK(r.hf_fused_dim == 1);
    }
  CHECK(gate_rows == 48);
}

TEST_CASE("gemma-3: four norms per block under Gemma's names") {
  const std::map<std::string, Shape> s = hf_shapes(load_model("gemma-3-1b"));
  for (const char* n : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                        "post_feedforward_layernorm"})
    CHECK(s.at(std::string("model.layers.0.") + n + ".weight") == Shape{1152});
  CHECK(s.at("model.layers.0.self_attn.k_norm.weight") == Shape{256});
}

TEST_CASE("phi-3: fused qkv_proj and gate_up_proj along the output dimension") {
  const std::map<std::string, Shape> s =
      hf_shapes(load_hf_config_file(std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/phi-3-mini-4k.json"));
  CHECK(s.at("model.layers.0.self_attn.qkv_proj.weight") == Shape{3 * 3072, 3072});
  CHECK(s.at("model.layers.0.mlp.gate_up_proj.weight") == Shape{2 * 8192, 3072});
  CHECK(s.at("model.layers.0.mlp.down_proj.weight") == Shape{3072, 8192});
}

TEST_CASE("qwen2-moe: the shared expert and its sigmoid gate [1, C] in every sparse layer") {
  const std::map<std::string, Shape> s =
      hf_shapes(load_hf_config_file(std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/qwen1.5-moe-a2.7b.json"));
  CHECK(s.at("model.layers.23.mlp.shared_expert.gate_proj.weight") == Shape{5632, 2048});
  CHECK(s.at("model.layers.23.mlp.shared_expert.down_proj.weight") == Shape{2048, 5632});
  CHECK(s.at("model.layers.23.mlp.shared_expert_gate.weight") == Shape{1, 2048});
}

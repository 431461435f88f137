// Model loading tests: built-in names and aliases, suggestions for unknown names, Hugging Face
// config.json fixtures (tests/data/hf/) against the built-ins, and the text of every rejection.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>

#include "planner/input_error.h"
#include "planner/io/builtin_data.h"
#include "planner/io/hf_config.h"
#include "planner/io/model_loader.h"
#include "planner/memory/params.h"

using namespace zplan;

namespace {
const std::string kHf = std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}
}  // namespace

TEST_CASE("all required built-in models are present") {
  const std::vector<std::string> names = builtin_model_names();
  for (const char* n : {"qwen3-30b-a3b", "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b",
                        "qwen3-32b", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gemma-3-27b",
                        "gemma-3-1b", "llama-3.1-8b", "llama-3.1-70b", "llama-3.2-1b", "llama-3.2-3b",
                        "qwen2.5-7b", "mistral-7b"}) {
    CAPTURE(n);
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
  }
}

TEST_CASE("built-in files: name matches the file, aliases are unique") {
  std::map<std::string, std::string> owner;  // lower-cased spelling -> model
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  for (const std::string& name : builtin_model_names()) {
    const ModelSpec m = load_model(name);
    CHECK(m.source == "models/" + name + ".yaml");
    CHECK_FALSE(m.family.empty());
    std::vector<std::string> spellings = builtin_model_aliases(name);
    spellings.push_back(name);
    for (const std::string& s : spellings) {
      CAPTURE(s);
      CHECK(owner.emplace(lower(s), name).second);  // no spelling names two models
    }
  }
  for (const BuiltinFile& f : builtin_files())
    if (f.path.rfind("models/", 0) == 0) CHECK(f.content.rfind("# ", 0) == 0);  // starts with its source
}

TEST_CASE("aliases as users type them") {
  CHECK(load_model("qwen3-30b").name == "qwen3-30b-a3b");
  CHECK(load_model("Qwen/Qwen3-30B-A3B").name == "qwen3-30b-a3b");
  CHECK(load_model("QWEN3-30B-A3B").name == "qwen3-30b-a3b");
  CHECK(load_model("gpt2-small").name == "gpt2");
  CHECK(load_model("gpt2-124m").name == "gpt2");
  CHECK(load_model("llama3-8b").name == "llama-3.1-8b");
  CHECK(load_model("llama-3-8b").name == "llama-3.1-8b");
  CHECK(load_model("llama3.1-8b").name == "llama-3.1-8b");
  CHECK(load_model("llama3-70b").name == "llama-3.1-70b");
  CHECK(load_model("google/gemma-3-27b-it").name == "gemma-3-27b");
}

TEST_CASE("unknown model names suggest the closest built-ins") {
  CHECK_THROWS_WITH_AS(load_model("qwen3-30b-a4b"), doctest::Contains("did you mean qwen3-30b-a3b"), InputError);
  CHECK_THROWS_WITH_AS(load_model("lama3-8b"), doctest::Contains("llama-3.1-8b"), InputError);
  CHECK_THROWS_WITH_AS(load_model("gpt3"), doctest::Contains("gpt2"), InputError);
  const std::string msg = error_of([] { load_model("qwen3-31b"); });
  CHECK(msg.find("--model") == 0);
  CHECK(msg.find("unknown model \"qwen3-31b\"") != std::string::npos);
  CHECK(msg.find(" or ") != std::string::npos);  // three names: "a, b or c"
  CHECK_THROWS_WITH_AS(load_model("x", "configs/a.yaml", "model"), doctest::Contains("configs/a.yaml: field 'model'"),
                       InputError);
  CHECK_THROWS_AS(load_model(""), InputError);
  CHECK_THROWS_WITH_AS(load_model("/nonexistent/model.yaml"), doctest::Contains("cannot read"), InputError);
}

TEST_CASE("Hugging Face fixtures give the same counts as the built-ins") {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"gpt2.json", "gpt2"},
      {"llama-3.1-8b.json", "llama-3.1-8b"},
      {"qwen3-8b.json", "qwen3-8b"},
      {"qwen3-30b-a3b.json", "qwen3-30b-a3b"},
      // as transformers 5 saves it: num_experts under its alias num_local_experts, rope inside rope_parameters
      {"qwen3-30b-a3b-transformers5.json", "qwen3-30b-a3b"},
      {"gemma-3-27b-it.json", "gemma-3-27b"},
      {"gemma-3-1b-it.json", "gemma-3-1b"},
      {"mistral-7b-v0.1.json", "mistral-7b"},
      {"qwen2.5-7b.json", "qwen2.5-7b"}};
  for (const auto& [file, name] : pairs) {
    CAPTURE(file);
    const ModelSpec hf = load_model(kHf + file);
    const ModelSpec b = load_model(name);
    CHECK(hf.source == kHf + file);
    CHECK(hf.family == b.family);
    CHECK(hf.layers == b.layers);
    CHECK(hf.hidden == b.hidden);
    CHECK(hf.heads == b.heads);
    CHECK(hf.kv_heads == b.kv_heads);
    CHECK(hf.head_dim == b.head_dim);
    CHECK(hf.ffn == b.ffn);
    CHECK(hf.vocab == b.vocab);
    CHECK(hf.max_positions == b.max_positions);
    CHECK(hf.norm == b.norm);
    CHECK(hf.mlp == b.mlp);
    CHECK(hf.position == b.position);
    CHECK(hf.tied_embeddings == b.tied_embeddings);
    CHECK(hf.qk_norm == b.qk_norm);
    CHECK(hf.qkv_bias == b.qkv_bias);
    CHECK(hf.out_bias == b.out_bias);
    CHECK(hf.sandwich_norm == b.sandwich_norm);
    CHECK(hf.scaled_embeddings == b.scaled_embeddings);
    CHECK(hf.hidden_dropout == b.hidden_dropout);
    CHECK(hf.attention_dropout == b.attention_dropout);
    CHECK(hf.moe.num_experts == b.moe.num_experts);
    CHECK(hf.moe.experts_per_token == b.moe.experts_per_token);
    CHECK(hf.moe.expert_ffn == b.moe.expert_ffn);
    CHECK(hf.qkv_projection == b.qkv_projection);
    CHECK(hf.attention_softmax_fp32 == b.attention_softmax_fp32);
    if (b.position == PositionKind::rope) CHECK(hf.rope_theta == b.rope_theta);
    CHECK(hf.rope_local_theta == b.rope_local_theta);  // Gemma 3's keys (0 and 1 elsewhere)
    CHECK(hf.rope_linear_factor == b.rope_linear_factor);
    CHECK(hf.query_pre_attn_scalar == b.query_pre_attn_scalar);
    // Llama-3 and Mistral configs say rms_norm_eps 1e-5; their model files keep the 1e-6 that
    // zplan's runtime has always used (the file's comment says so).
    if (name == "llama-3.1-8b" || name == "mistral-7b") {
      CHECK(hf.norm_eps == 1e-5);
      CHECK(b.norm_eps == 1e-6);
    } else {
      CHECK(hf.norm_eps == b.norm_eps);
    }
    CHECK(count_parameters(hf).total == b.published_parameters);
  }
}

TEST_CASE("model YAML: architecture facts have defaults and reject bad values") {
  const std::string base = "layers: 2\nhidden: 64\nheads: 4\nffn: 256\nvocab: 100\n";
  const ModelSpec d = parse_model_yaml(base, "t.yaml");
  CHECK(d.norm == NormKind::rms_norm);
  CHECK(d.norm_eps == 1e-6);
  CHECK(d.rope_theta == 10000.0);
  CHECK(d.qkv_projection == QkvProjection::separate);
  CHECK_FALSE(d.fused_gate_up_proj);
  CHECK(d.attention_softmax_fp32);
  CHECK(parse_model_yaml(base + "norm: layer_norm\n", "t.yaml").norm_eps == 1e-5);
  const ModelSpec s = parse_model_yaml(base + "norm: gemma_rms_norm\nnorm_eps: 1.0e-5\nrope_theta: 500000\n"
                                              "qkv_projection: c_attn\nfused_gate_up_proj: true\n"
                                              "attention_softmax_fp32: false\n", "t.yaml");
  CHECK(s.norm == NormKind::gemma_rms_norm);
  CHECK(s.norm_eps == 1e-5);
  CHECK(s.rope_theta == 500000.0);
  CHECK(s.qkv_projection == QkvProjection::c_attn);
  CHECK(s.fused_gate_up_proj);
  CHECK_FALSE(s.attention_softmax_fp32);
  CHECK(parse_model_yaml(base + "qkv_projection: fused\n", "t.yaml").qkv_projection == QkvProjection::fused);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "qkv_projection: conv1d\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'qkv_projection': expected one of separate|fused|c_attn"),
                       InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "norm_eps: 0\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'norm_eps'"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "norm_eps: tiny\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'norm_eps'"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "rope_theta: -1\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'rope_theta'"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "attention_softmax_fp32: maybe\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'attention_softmax_fp32': expected true or false"), InputError);
  // GPT-2's c_attn is [C, 3C]: grouped KV heads cannot be laid out in it.
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "kv_heads: 2\nqkv_projection: c_attn\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'qkv_projection': c_attn"), InputError);
}

TEST_CASE("Hugging Face defaults by model_type") {
  // gemma-3-27b-it leaves out vocab_size and tie_word_embeddings.
  const ModelSpec g = load_model(kHf + "gemma-3-27b-it.json");
  CHECK(g.vocab == 262208);
  CHECK(g.tied_embeddings);
  CHECK(g.name == "gemma-3-27b-it");
  // GPT-2: n_inner null -> 4 * n_embd; ties embeddings.
  const ModelSpec gpt = load_model(kHf + "gpt2.json");
  CHECK(gpt.ffn == 4 * 768);
  CHECK(gpt.tied_embeddings);
  CHECK(gpt.hidden_dropout == 0.1);
  CHECK(gpt.attention_dropout == 0.1);
  CHECK(g.scaled_embeddings);
  CHECK(g.attention_dropout == 0.0);
  // A minimal qwen3 config: head_dim 128, kv heads = heads, untied.
  nlohmann::json q = {{"model_type", "qwen3"}, {"hidden_size", 1024}, {"num_hidden_layers", 2},
                      {"num_attention_heads", 16}, {"intermediate_size", 3072}, {"vocab_size", 1000}};
  const ModelSpec qm = model_from_hf_config(q, "mem.json");
  CHECK(qm.head_dim == 128);
  CHECK(qm.kv_heads == 16);
  CHECK_FALSE(qm.tied_embeddings);
  CHECK(qm.qk_norm);
  // Mixtral: every layer sparse, expert inner size = intermediate_size.
  nlohmann::json mx = {{"model_type", "mixtral"}, {"hidden_size", 4096}, {"num_hidden_layers", 32},
                       {"num_attention_heads", 32}, {"num_key_value_heads", 8}, {"intermediate_size", 14336},
                       {"vocab_size", 32000}, {"num_local_experts", 8}, {"num_experts_per_tok", 2}};
  const ModelSpec mm = model_from_hf_config(mx, "mixtral.json");
  CHECK(mm.moe.num_experts == 8);
  CHECK(mm.moe.expert_ffn == 14336);
  CHECK(count_parameters(mm).total == 46702792704);  // Mixtral-8x7B checkpoint total
}

TEST_CASE("a model directory holding config.json loads") {
  const auto dir = std::filesystem::temp_directory_path() / "zplan_model_loader_test" / "Qwen3-8B";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kHf + "qwen3-8b.json", dir / "config.json",
                             std::filesystem::copy_options::overwrite_existing);
  const ModelSpec m = load_model(dir.string());
  CHECK(m.name == "Qwen3-8B");
  CHECK(count_parameters(m).total == 8190735360);
  std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("malformed config.json files name the file and the field") {
  const std::string bad = kHf + "bad/";
  CHECK_THROWS_WITH_AS(load_model(bad + "missing_fields.json"),
                       doctest::Contains("missing_fields.json: field 'hidden_size, num_hidden_layers': missing"),
                       InputError);
  CHECK_THROWS_WITH_AS(load_model(bad + "unknown_model_type.json"),
                       doctest::Contains("unknown_model_type.json: field 'model_type': unsupported model_type \"falcon\""),
                       InputError);
  CHECK_THROWS_WITH_AS(load_model(bad + "no_model_type.json"),
                       doctest::Contains("no_model_type.json: field 'model_type': missing"), InputError);
  CHECK_THROWS_WITH_AS(load_model(bad + "wrong_type.json"),
                       doctest::Contains("wrong_type.json: field 'hidden_size': expected an integer"), InputError);
  CHECK_THROWS_WITH_AS(load_model(bad + "negative_layers.json"),
                       doctest::Contains("negative_layers.json: field 'num_hidden_layers'"), InputError);
  CHECK_THROWS_WITH_AS(load_model(bad + "bad_kv_heads.json"),
                       doctest::Contains("bad_kv_heads.json: field 'num_key_value_heads': expected a divisor"),
                       InputError);
  CHECK_THROWS_WITH_AS(load_model(bad + "gemma3_no_text_config.json"),
                       doctest::Contains("gemma3_no_text_config.json: field 'text_config'"), InputError);
  CHECK_THROWS_WITH_AS(load_model(bad + "moe_missing_experts.json"),
                       doctest::Contains("moe_missing_experts.json: field 'num_experts, num_experts_per_tok'"),
                       InputError);
  CHECK_THROWS_WITH_AS(load_model(bad + "absurd_layers.json"),
                       doctest::Contains("absurd_layers.json: field 'n_layer': expected an integer <= 10000"),
                       InputError);
  CHECK_THROWS_WITH_AS(load_model(bad + "syntax_error.json"), doctest::Contains("syntax_error.json: invalid JSON"),
                       InputError);
}

TEST_CASE("model YAML: unknown keys, bad values and MoE consistency") {
  const std::string base = "layers: 2\nhidden: 64\nheads: 4\nffn: 256\nvocab: 100\n";
  CHECK(parse_model_yaml(base, "m/tiny.yaml").name == "tiny");
  CHECK(parse_model_yaml(base, "m/tiny.yaml").head_dim == 16);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "hiden: 3\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'hiden': unknown key; did you mean hidden"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "kv_heads: 3\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'kv_heads': expected a divisor of heads"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml("layers: 20000\nhidden: 64\nheads: 4\nffn: 256\nvocab: 100\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'layers'"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml("layers: 2\nhidden: 2000000\nheads: 4\nffn: 256\nvocab: 100\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'hidden'"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "norm: batch_norm\n", "t.yaml"),
                       doctest::Contains("field 'norm': expected one of rms_norm|layer_norm"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "position: learned\n", "t.yaml"),
                       doctest::Contains("field 'max_positions': missing"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml("layers: 2\nhidden: 64\nheads: [4]\nffn: 256\nvocab: 100\n", "t.yaml"),
                       doctest::Contains("field 'heads': expected an integer in [1, 1000000], got a list"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "moe: {num_experts: 8, experts_per_token: 9, expert_ffn: 32}\n", "t.yaml"),
                       doctest::Contains("field 'moe.experts_per_token'"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "moe: {num_experts: 8, experts_per_token: 2}\n", "t.yaml"),
                       doctest::Contains("field 'moe.expert_ffn': missing"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "moe: {num_experts: 8, experts_per_token: 2, expert_ffn: 32, "
                                               "shared_experts: 1}\n", "t.yaml"),
                       doctest::Contains("field 'moe.shared_expert_ffn'"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "moe: {num_experts: 8, experts_per_token: 2, expert_ffn: 32, "
                                               "dense_layers: [0, 1]}\n", "t.yaml"),
                       doctest::Contains("field 'moe': no layer is sparse"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "hidden_dropout: 1.5\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'hidden_dropout'"), InputError);
  CHECK_THROWS_WITH_AS(parse_model_yaml("layers: [\n", "t.yaml"), doctest::Contains("t.yaml: invalid YAML"),
                       InputError);
  const ModelSpec moe = parse_model_yaml(base + "moe: {num_experts: 8, experts_per_token: 2, expert_ffn: 32}\n", "t.yaml");
  CHECK(moe.is_moe());
  CHECK(moe.sparse_layer_count() == 2);
}

TEST_CASE("validate_model rejects what a hand-built spec gets wrong") {
  ModelSpec m = load_model("gpt2");
  CHECK_NOTHROW(validate_model(m));
  m.heads = 0;
  CHECK_THROWS_WITH_AS(validate_model(m), doctest::Contains("models/gpt2.yaml: field 'heads'"), InputError);
  m = load_model("gpt2");
  m.vocab = -1;
  CHECK_THROWS_WITH_AS(validate_model(m), doctest::Contains("field 'vocab'"), InputError);
  m = load_model("qwen3-30b-a3b");
  m.moe.experts_per_token = 0;
  CHECK_THROWS_WITH_AS(validate_model(m), doctest::Contains("field 'moe.experts_per_token'"), InputError);
}

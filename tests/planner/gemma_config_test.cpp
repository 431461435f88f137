// gemma_config_test.cpp: Gemma 3's own config keys (rope_local_base_freq, rope_scaling linear,
// query_pre_attn_scalar, sliding_window_pattern / layer_types) read from config.json in both the
// 4.5x and transformers 5 forms, written back, compared against --model, and the built-in models'
// values equal to their Hugging Face configs.
#include <doctest/doctest.h>

#include <utility>

#include <nlohmann/json.hpp>

#include "planner/input_error.h"
#include "planner/io/hf_config.h"
#include "planner/io/hf_config_writer.h"
#include "planner/io/model_loader.h"

using namespace zplan;

namespace {
const std::string kHf = std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/";

nlohmann::json tiny_text_config() {
  return {{"model_type", "gemma3_text"}, {"hidden_size", 64}, {"num_hidden_layers", 6}, {"num_attention_heads", 4},
          {"num_key_value_heads", 1}, {"head_dim", 16}, {"intermediate_size", 96}, {"vocab_size", 512}};
}
}  // namespace

TEST_CASE("Gemma 3 configs: local RoPE base, linear scaling and the score scale") {
  const ModelSpec small = load_hf_config_file(kHf + "gemma-3-1b-it.json");
  CHECK(small.rope_theta == 1e6);
  CHECK(small.rope_local_theta == 1e4);
  CHECK(small.rope_linear_factor == 1.0);  // rope_scaling null
  CHECK(small.query_pre_attn_scalar == 256);
  const ModelSpec big = load_hf_config_file(kHf + "gemma-3-27b-it.json");
  CHECK(big.rope_linear_factor == 8.0);
  CHECK(big.query_pre_attn_scalar == 168);  // hidden / heads, not head_dim 128
  CHECK(big.rope_local_theta == 1e4);       // Gemma3TextConfig's default
  // The built-in models say the same.
  for (const auto& [builtin, hf] : {std::pair{"gemma-3-1b", small}, std::pair{"gemma-3-27b", big}}) {
    CAPTURE(builtin);
    const ModelSpec b = load_model(builtin);
    CHECK(b.rope_local_theta == hf.rope_local_theta);
    CHECK(b.rope_linear_factor == hf.rope_linear_factor);
    CHECK(b.query_pre_attn_scalar == hf.query_pre_attn_scalar);
    CHECK(b.sliding_window == hf.sliding_window);
    CHECK(b.sliding_window_pattern == hf.sliding_window_pattern);
  }
  // Defaults: a config without the keys takes Gemma3TextConfig's.
  const ModelSpec d = model_from_hf_config(tiny_text_config(), "d.json");
  CHECK(d.query_pre_attn_scalar == 256);
  CHECK(d.rope_local_theta == 1e4);
  CHECK(d.sliding_window_pattern == 6);
  // Other families keep head_dim^-0.5 and one RoPE base.
  const ModelSpec q = load_hf_config_file(kHf + "qwen3-8b.json");
  CHECK(q.query_pre_attn_scalar == 0);
  CHECK(q.rope_local_theta == 0);
  CHECK(q.rope_linear_factor == 1.0);
}

TEST_CASE("Gemma 3 configs in transformers 5's form: layer_types and rope_parameters per layer type") {
  nlohmann::json c = tiny_text_config();
  c["layer_types"] = {"sliding_attention", "sliding_attention", "full_attention",
                      "sliding_attention", "sliding_attention", "full_attention"};
  c["rope_parameters"] = {{"full_attention", {{"rope_type", "linear"}, {"factor", 8.0}, {"rope_theta", 1e6}}},
                          {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 5e4}}}};
  const ModelSpec m = model_from_hf_config(c, "v5.json");
  CHECK(m.sliding_window_pattern == 3);
  CHECK(m.rope_theta == 1e6);
  CHECK(m.rope_local_theta == 5e4);
  CHECK(m.rope_linear_factor == 8.0);
  c["layer_types"][1] = "full_attention";  // not every N-th: the runtime could not follow it
  CHECK_THROWS_WITH_AS(model_from_hf_config(c, "v5.json"), doctest::Contains("v5.json: field 'layer_types'"), InputError);
  c = tiny_text_config();
  c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  CHECK_THROWS_WITH_AS(model_from_hf_config(c, "y.json"), doctest::Contains("y.json: field 'rope_scaling.rope_type'"),
                       InputError);
}

TEST_CASE("Gemma 3 config.json written from a spec reads back as the same model") {
  for (const char* file : {"gemma-3-1b-it.json", "gemma-3-27b-it.json", "run/tiny-gemma3.json"}) {
    CAPTURE(file);
    const ModelSpec m = load_hf_config_file(kHf + file);
    const nlohmann::json written = hf_config_json(m, "bfloat16");
    CHECK(written["model_type"] == "gemma3_text");
    CHECK(written["layer_types"].size() == static_cast<size_t>(m.layers));
    CHECK(written["query_pre_attn_scalar"].is_number_integer());  // transformers 5 rejects 256.0
    const ModelSpec back = model_from_hf_config(written, "written");
    CHECK_NOTHROW(check_hf_config_matches(back, m, "ckpt/config.json"));
    CHECK(back.rope_local_theta == m.rope_local_theta);
    CHECK(back.rope_linear_factor == m.rope_linear_factor);
    CHECK(back.query_pre_attn_scalar == m.query_pre_attn_scalar);
    CHECK(back.sliding_window_pattern == m.sliding_window_pattern);
  }
  const ModelSpec m = load_hf_config_file(kHf + "gemma-3-1b-it.json");
  ModelSpec other = m;
  other.query_pre_attn_scalar = 168;
  CHECK_THROWS_WITH_AS(check_hf_config_matches(m, other, "ckpt/config.json"),
                       doctest::Contains("ckpt/config.json: field 'query_pre_attn_scalar'"), InputError);
  other = m;
  other.sliding_window_pattern = 4;
  CHECK_THROWS_WITH_AS(check_hf_config_matches(m, other, "ckpt/config.json"),
                       doctest::Contains("field 'sliding_window_pattern'"), InputError);
}

TEST_CASE("model YAML: Gemma's keys load and are range-checked") {
  const std::string base = "name: t\nlayers: 2\nhidden: 64\nheads: 4\nffn: 96\nvocab: 512\n";
  const ModelSpec s = parse_model_yaml(base + "rope_local_theta: 10000\nrope_linear_factor: 8\nquery_pre_attn_scalar: 168\n", "t.yaml");
  CHECK(s.rope_local_theta == 1e4);
  CHECK(s.rope_linear_factor == 8.0);
  CHECK(s.query_pre_attn_scalar == 168);
  CHECK_THROWS_WITH_AS(parse_model_yaml(base + "rope_linear_factor: 0.5\n", "t.yaml"),
                       doctest::Contains("t.yaml: field 'rope_linear_factor'"), InputError);
}

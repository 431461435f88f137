// hf_checkpoint_config_test.cpp: the torch-free halves of Hugging Face checkpoints: config.json
// written from a ModelSpec reads back as the same model (every config.json fixture), a config that
// disagrees with --model names the field, and the safetensors header parser's checks.
#include <doctest/doctest.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "planner/input_error.h"
#include "planner/io/hf_config.h"
#include "planner/io/hf_config_writer.h"
#include "planner/io/safetensors_header.h"

using namespace zplan;

namespace {
const std::string kHf = std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/";

std::string error_of(const ModelSpec& a, const ModelSpec& b) {
  try {
    check_hf_config_matches(a, b, "ckpt/config.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("config.json written from a spec reads back as the same model") {
  for (const char* file : {"gpt2.json", "llama-3.1-8b.json", "qwen2.5-7b.json", "qwen3-8b.json", "qwen3-30b-a3b.json",
                           "mistral-7b-v0.1.json", "run/tiny-qwen3.json"}) {
    CAPTURE(file);
    const ModelSpec m = load_hf_config_file(kHf + file);
    const ModelSpec back = model_from_hf_config(hf_config_json(m, "bfloat16"), "written");
    CHECK(error_of(back, m) == "");
    CHECK(hf_model_type(back) == hf_model_type(m));
    CHECK(back.max_positions == m.max_positions);
  }
  CHECK(hf_model_type(load_hf_config_file(kHf + "qwen3-30b-a3b.json")) == "qwen3_moe");
  CHECK(hf_model_type(load_hf_config_file(kHf + "gpt2.json")) == "gpt2");
  CHECK(hf_config_json(load_hf_config_file(kHf + "gpt2.json"), "float32")["architectures"][0] == "GPT2LMHeadModel");
}

TEST_CASE("a checkpoint config that disagrees with --model names the field") {
  const ModelSpec m = load_hf_config_file(kHf + "qwen3-8b.json");
  ModelSpec other = m;
  other.hidden += 128;
  CHECK(error_of(m, other).find("ckpt/config.json: field 'hidden'") != std::string::npos);
  other = m;
  other.vocab = 1000;
  CHECK(error_of(m, other).find("field 'vocab'") != std::string::npos);
  other = m;
  other.rope_theta = 1e4;
  CHECK(error_of(m, other).find("field 'rope_theta'") != std::string::npos);
  CHECK(error_of(m, load_hf_config_file(kHf + "llama-3.1-8b.json")).find("field 'model_type'") != std::string::npos);
}

TEST_CASE("safetensors header: written headers parse, damaged files are named") {
  std::vector<SafetensorsEntry> entries(2);
  entries[0].name = "a";
  entries[0].dtype = "BF16";
  entries[0].shape = {3, 5};
  entries[1].name = "b";
  entries[1].dtype = "F32";
  entries[1].shape = {7};
  std::string file = safetensors_header_bytes(entries);
  CHECK((file.size() - 8) % 8 == 0);
  const uint64_t data_start = file.size();
  file.append(3 * 5 * 2 + 7 * 4, '\0');
  auto parse = [&](const std::string& bytes) {
    return parse_safetensors_header(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "x.safetensors");
  };
  const SafetensorsHeader h = parse(file);
  CHECK(h.data_start == data_start);
  REQUIRE(h.tensors.size() == 2);
  CHECK(h.tensors[1].name == "b");
  CHECK(h.tensors[1].begin == 30);
  CHECK(h.tensors[1].end == 58);
  auto message = [&](const std::string& bytes) {
    try {
      parse(bytes);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(message(file.substr(0, file.size() - 1)).find("x.safetensors: field 'b': truncated file") == 0);
  CHECK(message(file.substr(0, 20)).find("x.safetensors: truncated or not a safetensors file: header length") == 0);
  CHECK(message(file.substr(0, 5)).find("shorter than the 8-byte header length") != std::string::npos);
  std::string wrong = file;
  const std::string shape = "[3,5]";
  wrong.replace(wrong.find(shape), shape.size(), "[3,6]");
  CHECK(message(wrong).find("field 'a': holds 30 bytes, but BF16 [3,6] needs 36") != std::string::npos);
}

TEST_CASE("transformers 5 configs give the RoPE base inside rope_parameters") {
  nlohmann::json c = {{"model_type", "llama"}, {"hidden_size", 64}, {"num_hidden_layers", 2},
                      {"num_attention_heads", 4}, {"vocab_size", 128}, {"intermediate_size", 128},
                      {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 500000.0}}}};
  CHECK(model_from_hf_config(c, "v5.json").rope_theta == 500000.0);
  c["rope_theta"] = 10000.0;  // both: the top-level key (as zplan writes them, equal)
  CHECK(model_from_hf_config(c, "v5.json").rope_theta == 10000.0);
}

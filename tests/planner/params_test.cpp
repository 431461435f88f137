// Parameter table tests: every built-in model's total, summed from parameter_tensors(), equals the
// published checkpoint total exactly (or the exact derivation named in the model file's comment).
#include <doctest/doctest.h>

#include <set>

#include "planner/io/model_loader.h"
#include "planner/memory/params.h"

using namespace zplan;

TEST_CASE("every built-in model's table sums to published_parameters") {
  const std::vector<std::string> names = builtin_model_names();
  REQUIRE(names.size() >= 19);
  for (const std::string& name : names) {
    CAPTURE(name);
    const ModelSpec m = load_model(name);
    REQUIRE(m.published_parameters > 0);
    CHECK(count_parameters(m).total == m.published_parameters);
  }
}

TEST_CASE("published totals from the checkpoints") {
  // Safetensors totals of the Hugging Face checkpoints (model cards / file metadata).
  CHECK(count_parameters(load_model("gpt2")).total == 124439808);
  CHECK(count_parameters(load_model("gpt2-medium")).total == 354823168);
  CHECK(count_parameters(load_model("gpt2-large")).total == 774030080);
  CHECK(count_parameters(load_model("gpt2-xl")).total == 1557611200);
  CHECK(count_parameters(load_model("llama-3.1-8b")).total == 8030261248);
  CHECK(count_parameters(load_model("llama-3.1-70b")).total == 70553706496);
  CHECK(count_parameters(load_model("qwen3-8b")).total == 8190735360);
  CHECK(count_parameters(load_model("qwen3-30b-a3b")).total == 30532122624);
  CHECK(count_parameters(load_model("mistral-7b")).total == 7241732096);
  CHECK(count_parameters(load_model("gemma-3-1b")).total == 999885952);
}

TEST_CASE("gpt2 breakdown by row kind") {
  const ModelSpec m = load_model("gpt2");
  const ParamCounts c = count_parameters(m);
  CHECK(c.embedding == 50257 * 768 + 1024 * 768);  // wte + wpe
  CHECK(c.lm_head == 0);                           // tied
  CHECK(c.final_norm == 2 * 768);                  // ln_f weight + bias
  REQUIRE(c.per_layer.size() == 12);
  for (int64_t n : c.per_layer) CHECK(n == 12 * 768 * 768 + 13 * 768);  // 12C^2 + 13C
  CHECK(c.per_layer_max == 12 * 768 * 768 + 13 * 768);
  CHECK(c.largest_tensor == 50257 * 768);
  CHECK(c.active_per_token == c.total);
  // 2 embedding rows, 16 rows per block (2 norms x 2, q/k/v/o, 4 biases, fc/proj + 2 biases), ln_f x 2.
  CHECK(parameter_tensors(m).size() == 2 + 12 * 16 + 2);
}

TEST_CASE("untied models carry an lm_head row, tied ones do not") {
  const ModelSpec q8 = load_model("qwen3-8b");
  const ParamCounts c = count_parameters(q8);
  CHECK(c.lm_head == 151936 * 4096);
  CHECK(c.largest_tensor == 151936 * 4096);
  CHECK(c.final_norm == 4096);
  const ModelSpec gemma = load_model("gemma-3-27b");
  CHECK(count_parameters(gemma).lm_head == 0);
  for (const ParamTensor& t : parameter_tensors(gemma)) CHECK(t.name != "lm_head");
}

TEST_CASE("qwen3-30b-a3b: experts as one row per layer per kind, 3.3B active") {
  const ModelSpec m = load_model("qwen3-30b-a3b");
  const std::vector<ParamTensor> rows = parameter_tensors(m);
  int expert_rows = 0, routers = 0;
  for (const ParamTensor& t : rows) {
    if (t.expert) {
      ++expert_rows;
      CHECK(t.elements == int64_t{128} * 768 * 2048);  // E * FE * C
      CHECK(t.layer >= 0);
    }
    if (t.name.find("router") != std::string::npos) {
      ++routers;
      CHECK(t.elements == 128 * 2048);
      CHECK_FALSE(t.expert);
    }
  }
  CHECK(expert_rows == 48 * 3);  // gate, up, down
  CHECK(routers == 48);
  const ParamCounts c = count_parameters(m);
  const int64_t experts = int64_t{48} * 3 * 128 * 768 * 2048;
  CHECK(c.active_per_token == c.total - experts + experts / 128 * 8);
  CHECK(c.active_per_token == 3353032704);  // model card: 3.3B activated
  CHECK(c.per_layer_max == c.per_layer[0]);
}

TEST_CASE("row names are unique and layer indices in range") {
  for (const std::string& name : builtin_model_names()) {
    CAPTURE(name);
    const ModelSpec m = load_model(name);
    std::set<std::string> seen;
    for (const ParamTensor& t : parameter_tensors(m)) {
      CHECK(seen.insert(t.name).second);
      CHECK(t.elements > 0);
      CHECK(t.layer >= -1);
      CHECK(t.layer < m.layers);
    }
  }
}

TEST_CASE("shared experts and dense layers change the table") {
  ModelSpec m = load_model("qwen3-30b-a3b");
  const int64_t base = count_parameters(m).total;
  m.moe.dense_layers = {0};  // layer 0 becomes a dense SwiGLU MLP of ffn 6144
  const int64_t dense0 = count_parameters(m).total;
  CHECK(dense0 == base - (128 * 2048 + int64_t{3} * 128 * 768 * 2048) + 3 * 2048 * 6144);
  m.moe.dense_layers.clear();
  m.moe.shared_experts = 1;
  m.moe.shared_expert_ffn = 1024;
  CHECK(count_parameters(m).total == base + int64_t{48} * 3 * 2048 * 1024);
}

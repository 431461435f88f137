// The runtime builds its parameters from the planner's table (planner/memory/params.h): for every
// built-in model the runtime accepts, a full-size model on the meta device (shapes, no storage)
// has the planner's Hugging Face tensors, in order, with the planner's totals per layer and overall.
#include "tests/runtime/torch_doctest.h"

#include <map>

#include "planner/input_error.h"
#include "planner/io/hf_config.h"
#include "planner/io/model_loader.h"
#include "planner/memory/params.h"
#include "runtime/model/transformer.h"

using namespace zplan;

namespace {

// The runtime's parameters on the meta device against the planner's table for `spec`: HF names
// and shapes in order, the total and each layer's sum (the ZeRO-3 gather unit).
void check_parity(const ModelSpec& spec) {
  rt::BuildOptions opt;
  opt.device = at::kMeta;
  const rt::TransformerModel model(spec, opt);
  const std::vector<HfTensor> expected = hf_tensors(parameter_tensors(spec));
  REQUIRE(model.params().size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(expected[i].name);
    CHECK(model.params()[i].name == expected[i].name);
    CHECK(model.params()[i].tensor.sizes().vec() == expected[i].shape);
  }
  const ParamCounts counts = count_parameters(spec);
  CHECK(model.param_count() == static_cast<uint64_t>(counts.total));
  const std::vector<std::vector<size_t>> groups = model.param_groups();
  REQUIRE(groups.size() == static_cast<size_t>(spec.layers + 1));
  for (int64_t l = 0; l < spec.layers; ++l) {
    int64_t n = 0;
    for (size_t i : groups[static_cast<size_t>(l)]) n += model.params()[i].tensor.numel();
    CHECK(n == counts.per_layer[static_cast<size_t>(l)]);
  }
}

}  // namespace

TEST_CASE("runtime parameters equal the planner's table for Phi-3-mini and Qwen1.5-MoE-A2.7B") {
  // Their config.json fixtures (the families beyond the built-in models), with the totals the
  // checkpoints publish: fused qkv_proj/gate_up_proj; the shared expert and its sigmoid gate.
  const std::string dir = std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/";
  for (const auto& [file, published] : std::map<std::string, uint64_t>{
           {"phi-3-mini-4k.json", 3821079552ull}, {"qwen1.5-moe-a2.7b.json", 14315784192ull}}) {
    CAPTURE(file);
    const ModelSpec spec = load_hf_config_file(dir + file);
    check_parity(spec);
    rt::BuildOptions opt;
    opt.device = at::kMeta;
    CHECK(rt::TransformerModel(spec, opt).param_count() == published);
  }
}

TEST_CASE("runtime parameters equal the planner's table for a Mixtral config.json") {
  // Mixtral (also built in as mixtral-8x7b): mlp.gate and stacked experts without qk-norm, every
  // layer sparse; its sliding window changes no parameter.
  const ModelSpec spec = load_hf_config_file(std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/run/tiny-mixtral.json");
  CHECK(spec.sliding_window == 24);
  rt::check_runtime_supports(spec);
  check_parity(spec);
  CHECK(count_parameters(load_model("mixtral-8x7b")).total == 46702792704ull);
}

TEST_CASE("runtime parameters equal the planner's table for every built-in model") {
  int built = 0;
  for (const std::string& name : builtin_model_names()) {
    CAPTURE(name);
    const ModelSpec spec = load_model(name);
    CHECK_NOTHROW(rt::check_runtime_supports(spec));  // every built-in family runs, Gemma 3 included
    check_parity(spec);  // names, shapes, total and per-layer counts against the planner's table
    CHECK(count_parameters(spec).total == spec.published_parameters);
    ++built;
  }
  CHECK(built == static_cast<int>(builtin_model_names().size()));
}

// gemma_memory_test.cpp: what the zplan profile predicts for zplan's Gemma 3 runtime blocks
// (runtime/model/gemma_blocks.h, DecoderLayer::forward with sandwich norms): the second RoPE table
// in the stem rows, the four fp32 norm pairs per layer, and the op order (runtime_layer_order.h)
// whose post-MLP norm rows are released before the MLP's gradient peak. The hf profile keeps its
// validated rows.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "planner/io/model_loader.h"
#include "planner/memory/activations.h"
#include "planner/memory/runtime_layer_order.h"

using namespace zplan;

namespace {

ExecContext context(Profile profile) {
  ExecContext c;
  c.profile = profile;
  c.seq_len = 4096;  // beyond gemma-3-1b's window of 512
  return c;
}

const TensorRow* find_row(const std::vector<TensorRow>& rows, const std::string& name) {
  for (const TensorRow& r : rows)
    if (r.name == name) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("zplan profile: Gemma 3's local RoPE table is a stem row of the runtime, not of transformers") {
  const ModelSpec g = load_model("gemma-3-1b");
  const TensorRow* local = find_row(stem_activations(g, context(Profile::zplan)).saved, "rope.local_cos_sin");
  REQUIRE(local != nullptr);
  CHECK(local->bytes_per_token == 2 * 2 * g.head_dim);  // cos and sin [B, T, HD] in bf16
  CHECK(find_row(stem_activations(g, context(Profile::hf)).saved, "rope.local_cos_sin") == nullptr);
  CHECK(find_row(stem_activations(load_model("qwen3-0.6b"), context(Profile::zplan)).saved, "rope.local_cos_sin") == nullptr);
}

TEST_CASE("zplan profile: a Gemma 3 layer keeps four fp32 norm pairs and its op order is modelled") {
  const ModelSpec g = load_model("gemma-3-1b");
  const ExecContext c = context(Profile::zplan);
  for (int64_t layer : {0, 5}) {  // a sliding and a global layer
    CAPTURE(layer);
    const BlockActivations b = block_activations(g, layer, c);
    for (const char* norm : {"input_norm", "post_attn_norm", "pre_mlp_norm", "post_mlp_norm"}) {
      CAPTURE(norm);
      for (const char* part : {".input_fp32", ".normed_fp32"}) {
        const TensorRow* r = find_row(b.saved, std::string(norm) + part);
        REQUIRE(r != nullptr);
        CHECK(r->bytes_per_token == 4 * g.hidden);
      }
    }
    const RuntimeLayerOrder o = runtime_layer_order(g, layer, c, b);
    CHECK(o.modelled);
    for (const char* freed : {"mlp.product", "post_mlp_norm.input_fp32", "post_mlp_norm.normed_fp32"})
      CHECK(std::find(o.freed_before_mlp_grads.begin(), o.freed_before_mlp_grads.end(), freed) !=
            o.freed_before_mlp_grads.end());
    for (const std::string& name : o.freed_before_mlp_grads) CHECK(find_row(b.saved, name) != nullptr);
    CHECK_FALSE(runtime_layer_order(g, layer, context(Profile::hf), b).modelled);
  }
}

// moe_order_test.cpp: the zplan profile's sparse layers (runtime_layer_order.h, sparse_layer_order):
// the experts' five saved tensors are rows of their own, each released exactly once by the
// experts' backward nodes, down's weight gradient arrives before gate_up's, every gradient the
// nodes make is released, and the split keeps the bytes of transformers' one row (which the hf
// profile keeps). The records of tests/regression/measured/zplan_grouped_mm check the peaks.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "planner/io/model_loader.h"
#include "planner/memory/activations.h"
#include "planner/memory/runtime_layer_order.h"

using namespace zplan;

namespace {

ExecContext context(Profile profile) {
  ExecContext c;
  c.profile = profile;
  c.seq_len = 8192;
  return c;
}

int64_t saved_bytes_per_token(const BlockActivations& b, const std::string& prefix) {
  int64_t n = 0;
  for (const TensorRow& r : b.saved)
    if (r.name.rfind(prefix, 0) == 0) n += r.bytes_per_token;
  return n;
}

}  // namespace

TEST_CASE("zplan profile: a sparse layer's experts backward releases each saved tensor once, in node order") {
  const ModelSpec m = load_model("mixtral-8x7b");
  const ExecContext c = context(Profile::zplan);
  const BlockActivations b = block_activations(m, 0, c);
  const BlockActivations hf = block_activations(m, 0, context(Profile::hf));
  // Same bytes as transformers' one row, split into the tensors the nodes release.
  CHECK(saved_bytes_per_token(b, "moe.experts.") == saved_bytes_per_token(hf, "moe.experts"));
  const RuntimeLayerOrder o = runtime_layer_order(m, 0, c, b);
  REQUIRE(o.modelled);
  std::map<std::string, int> released, made;
  int down_at = -1, gate_up_at = -1, step = 0;
  for (const BackwardOp& op : o.experts_backward) {
    ++step;
    if (op.kind == BackwardOp::Kind::alloc) ++made[op.row.name];
    if (op.kind == BackwardOp::Kind::free) ++released[op.name];
    if (op.kind == BackwardOp::Kind::weight_grads)
      (op.roles.front() == TensorRole::expert_down ? down_at : gate_up_at) = step;
  }
  for (const char* row : {"moe.experts.input", "moe.experts.gate_up_out", "moe.experts.act_out",
                          "moe.experts.product", "moe.experts.down_out"})
    CHECK(released[row] == 1);
  for (const auto& [name, count] : made) CHECK(released[name] == count);
  CHECK(down_at > 0);
  CHECK(gate_up_at > down_at);
  CHECK_FALSE(runtime_layer_order(m, 0, context(Profile::hf), hf).modelled);
}

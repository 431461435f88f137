// fused_norm_test.cpp: the rows the zplan profile predicts when zplan's runtime runs RMSNorm through
// at::_fused_rms_norm (FusedRmsNormBackward0 keeps the input and the fp32 1/rms of each normalised
// group) against transformers' composite expression (fp32 input and the normalised tensor), and which
// recipes and profiles take the fused path (planner/memory/exec_context.h).
#include <doctest/doctest.h>

#include <string>

#include "planner/io/model_loader.h"
#include "planner/memory/activations.h"
#include "planner/memory/exec_context.h"

using namespace zplan;

namespace {

ExecContext context_for(Profile profile, NormImpl norm, Precision precision) {
  TrainingSpec t;
  t.seq_len = 4096;
  t.profile = profile;
  t.norm = norm;
  t.framework = Framework::plain;
  Strategy s;
  s.precision = precision;
  return make_exec_context(t, s, 1);
}

int64_t row_bytes(const std::vector<TensorRow>& rows, const std::string& name) {
  for (const TensorRow& r : rows)
    if (r.name == name) return r.bytes_per_token;
  return -1;
}

}  // namespace

TEST_CASE("the fused path: zplan's runtime, the fused choice, no autocast") {
  CHECK(context_for(Profile::zplan, NormImpl::fused, Precision::bf16).fused_rms_norm);
  CHECK(context_for(Profile::zplan, NormImpl::fused, Precision::fp32).fused_rms_norm);
  CHECK(context_for(Profile::zplan, NormImpl::fused, Precision::fp16).fused_rms_norm);
  CHECK_FALSE(context_for(Profile::zplan, NormImpl::fused, Precision::amp_bf16).fused_rms_norm);
  CHECK_FALSE(context_for(Profile::zplan, NormImpl::composite, Precision::bf16).fused_rms_norm);
  CHECK_FALSE(context_for(Profile::hf, NormImpl::fused, Precision::bf16).fused_rms_norm);
}

TEST_CASE("qwen3 in bf16: a fused norm keeps its 16-bit input and one fp32 1/rms per normalised group") {
  const ModelSpec m = load_model("qwen3-1.7b");
  const BlockActivations fused = block_activations(m, 0, context_for(Profile::zplan, NormImpl::fused, Precision::bf16));
  const BlockActivations composite = block_activations(m, 0, context_for(Profile::zplan, NormImpl::composite, Precision::bf16));
  const int64_t C = m.hidden, qd = m.q_dim(), kd = m.kv_dim(), hd = m.head_dim;
  CHECK(row_bytes(fused.saved, "input_norm.input") == 2 * C);
  CHECK(row_bytes(fused.saved, "input_norm.rstd") == 4);
  CHECK(row_bytes(fused.saved, "attn.q_norm.input") == 2 * qd);
  CHECK(row_bytes(fused.saved, "attn.q_norm.rstd") == 4 * (qd / hd));
  CHECK(row_bytes(fused.saved, "attn.k_norm.rstd") == 4 * (kd / hd));
  CHECK(row_bytes(fused.saved, "input_norm.input_fp32") == -1);
  CHECK(row_bytes(composite.saved, "input_norm.input_fp32") == 4 * C);
  CHECK(row_bytes(composite.saved, "input_norm.normed") == 2 * C);
  // Per token the composite keeps 6 bytes per normalised feature, the fused kernel 2 plus the rstd:
  // two hidden-size norms and the q/k norms of every layer.
  const int64_t groups = 2 + (qd + kd) / hd;
  const auto per_token = [](const std::vector<TensorRow>& rows) { return static_cast<int64_t>(sum_bytes(rows, 1, 1)); };
  CHECK(per_token(composite.saved) - per_token(fused.saved) == 4 * (2 * C + qd + kd) - 4 * groups);
  // Backward: the fused kernel writes d input in the input dtype, no fp32 temporaries.
  CHECK(row_bytes(fused.backward_transient, "norm_backward_grad_input") == 2 * C);
  CHECK(row_bytes(fused.backward_transient, "norm_backward_fp32") == -1);
  CHECK(row_bytes(composite.backward_transient, "norm_backward_fp32") == 8 * C);
}

TEST_CASE("LayerNorm and Gemma's (1 + w) RMSNorm keep their rows whatever the norm choice") {
  for (const char* name : {"gpt2", "gemma-3-1b"}) {
    CAPTURE(name);
    const ModelSpec m = load_model(name);
    const BlockActivations fused = block_activations(m, 0, context_for(Profile::zplan, NormImpl::fused, Precision::bf16));
    const BlockActivations composite = block_activations(m, 0, context_for(Profile::zplan, NormImpl::composite, Precision::bf16));
    CHECK(sum_bytes(fused.saved, 1, 1) == sum_bytes(composite.saved, 1, 1));
    CHECK(sum_bytes(fused.backward_transient, 1, 1) == sum_bytes(composite.backward_transient, 1, 1));
  }
}

// score_ops.cpp (see score_ops.h).
#include "planner/cost/score_ops.h"

namespace zplan {
namespace {

// Llama/Qwen/Gemma call softmax(dtype=float32) and cast back, as zplan's runtime does for every
// family; GPT-2 softmaxes in the input dtype, which autocast lifts to fp32 (it lists softmax) and
// `.type(value.dtype)` casts back (activations.cpp keeps the same outputs).
bool eager_softmax_in_fp32(const ModelSpec& m, const ExecContext& c, double a) {
  return a < 4.0 && (m.attention_softmax_fp32 || c.autocast || c.profile == Profile::zplan);
}

// ATen's softmax(dtype=float32) reads a half input directly; autocast casts it first.
bool fused_half_upcast(const ExecContext& c) { return !c.autocast && c.precision == Precision::fp16; }

}  // namespace

// Per score:
//   scale: read a, write a; + causal mask: read a, write a (the [T, T] mask stays in cache);
//   softmax: an fp32 softmax of a 16-bit input is a cast (read a, write 4; fp16 outside autocast has
//   ATen's fused half-to-float path instead), the softmax (read 4, write 4) and the cast back
//   (read 4, write a); in the input dtype it reads and writes a;
//   dropout when training with p > 0 (GPT-2's attn_pdrop): read a, write a and a 1-byte mask.
// Backward: dropout's (read a and the mask, write a), the cast back's (read a, write 4), softmax's
// (read the gradient and the saved output, write), the upcast's (read 4, write a), the scale's.
ScoreOps eager_attention_score_ops(const ModelSpec& m, const ExecContext& c, double a) {
  ScoreOps o;
  const bool dropout = m.attention_dropout > 0.0;
  const double dropout_bytes = dropout ? 2.0 * a + 1.0 : 0.0;
  o.forward_bytes = 2.0 * a + 2.0 * a + dropout_bytes;
  o.backward_bytes = 2.0 * a + dropout_bytes;
  o.kernels = 3.0 + (dropout ? 1.0 : 0.0);  // scale, mask, softmax, dropout
  if (!eager_softmax_in_fp32(m, c, a)) {
    o.forward_bytes += 2.0 * a;
    o.backward_bytes += 3.0 * a;
    return o;
  }
  const bool fused = fused_half_upcast(c);
  const double upcast = fused ? 0.0 : a + 4.0;
  o.forward_bytes += upcast + (fused ? a + 4.0 : 8.0) + (4.0 + a);
  o.backward_bytes += (4.0 + a) + 12.0 + upcast;
  o.kernels += fused ? 1.0 : 2.0;  // the casts around the softmax
  return o;
}

// The mask added in place (read 4, write 4), _safe_softmax (softmax: read 4, write 4; eq to -inf:
// read 4, write 1; the all-masked-rows test: read 1; where: read 4, write 4). Backward: where's
// (read 4, write 4) and softmax's (read 4 + 4, write 4); the mask's add passes the gradient through.
// Launches: q and k scaling, repeat_interleave of k and v (GQA), add, softmax, eq, all, where.
ScoreOps sdpa_math_score_ops() {
  ScoreOps o;
  o.forward_bytes = 8.0 + 8.0 + 5.0 + 1.0 + 8.0;
  o.backward_bytes = 8.0 + 12.0;
  o.kernels = 8.0;
  return o;
}

}  // namespace zplan

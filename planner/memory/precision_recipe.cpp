// Precision recipes (see precision_recipe.h for the sources).
#include "planner/memory/precision_recipe.h"

namespace zplan {

PrecisionRecipe precision_recipe(Precision p) {
  switch (p) {
    case Precision::bf16:
    case Precision::fp16:
      // DeepSpeed bf16/fp16: 16-bit params/grads, fp32 master + Adam; the optimizer steps on an
      // fp32 copy of the (partitioned) gradient.
      return {2, 2, 4, 8, 4, 2};
    case Precision::amp_bf16:
    case Precision::amp_fp16:
      return {4, 4, 0, 8, 0, 2};
    case Precision::fp32:
      return {4, 4, 0, 8, 0, 4};
    case Precision::bf16_pure:
      // AdamW creates exp_avg and exp_avg_sq like the (bf16) params: 2 + 2 bytes.
      return {2, 2, 0, 4, 0, 2};
  }
  return {4, 4, 0, 8, 0, 4};
}

}  // namespace zplan

// Layer-pattern helpers for ModelSpec (which layers are MoE).
#include "planner/config/model_spec.h"

#include <algorithm>

namespace zplan {

bool ModelSpec::layer_is_sparse(int64_t i) const {
  if (!is_moe()) return false;
  if (i < moe.first_dense_layers) return false;
  if (std::find(moe.dense_layers.begin(), moe.dense_layers.end(), static_cast<int>(i)) !=
      moe.dense_layers.end())
    return false;
  const int step = std::max(1, moe.sparse_step);
  return (i + 1) % step == 0;
}

int64_t ModelSpec::sparse_layer_count() const {
  int64_t n = 0;
  for (int64_t i = 0; i < layers; ++i) n += layer_is_sparse(i) ? 1 : 0;
  return n;
}

}  // namespace zplan

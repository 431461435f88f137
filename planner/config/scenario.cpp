// Defaults of unpinned strategy dimensions (see scenario.h).
#include "planner/config/scenario.h"

namespace zplan {

Strategy strategy_with_defaults(const Scenario& s) {
  const StrategyPins& p = s.pins;
  Strategy st;
  st.zero_stage = p.zero_stage.value_or(0);
  st.offload_optimizer = p.offload_optimizer.value_or(false);
  st.offload_params = p.offload_params.value_or(false);
  st.checkpointed_layers = p.checkpointed_layers.value_or(0);
  st.cpu_checkpointing = p.cpu_checkpointing.value_or(false);
  st.sp_degree = p.sp_degree.value_or(1);
  st.loss_chunks = p.loss_chunks.value_or(0);
  st.micro_batch = p.micro_batch.value_or(1);
  st.grad_accumulation = p.grad_accumulation.value_or(1);
  st.precision = p.precision.value_or(s.cluster.gpu.supports_bf16 ? Precision::bf16 : Precision::fp16);
  return st;
}

}  // namespace zplan

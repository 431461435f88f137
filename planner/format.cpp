// Shared formatting (see format.h).
#include "planner/format.h"

#include <cstdio>
#include <sstream>

namespace zplan {

std::string format_bytes(uint64_t bytes) {
  char buf[64];
  const double gib = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
  if (gib >= 1.0) std::snprintf(buf, sizeof buf, "%.2f GiB", gib);
  else std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

std::string strategy_summary(const Strategy& st, int64_t layers) {
  std::ostringstream o;
  o << "ZeRO-" << st.zero_stage;
  if (st.offload_optimizer) o << "+opt-offload";
  if (st.offload_params) o << "+param-offload";
  o << ", ckpt " << st.checkpointed_layers << "/" << layers << (st.cpu_checkpointing ? " (CPU)" : "") << ", SP "
    << st.sp_degree << ", mb " << st.micro_batch << " x ga " << st.grad_accumulation << ", " << to_string(st.precision);
  if (st.loss_chunks > 1) o << ", loss in " << st.loss_chunks << " chunks";
  return o.str();
}

}  // namespace zplan

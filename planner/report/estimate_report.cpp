// Text, Markdown and JSON renderings of an Estimate (see estimate_report.h).
#include "planner/format.h"
#include "planner/report/estimate_report.h"

#include <cstdio>
#include <sstream>

#include "planner/memory/memory_category.h"
#include "planner/io/breakdown_json.h"

namespace zplan {

nlohmann::json estimate_to_json(const Estimate& e, const Scenario& s) {
  nlohmann::json j;
  j["feasible"] = e.feasible;
  j["verdict"] = e.verdict;
  j["model"] = {{"name", s.model.name}, {"family", s.model.family}, {"parameters", e.parameters},
                {"layers", s.model.layers}, {"hidden", s.model.hidden}, {"vocab", s.model.vocab}};
  j["cluster"] = {{"name", s.cluster.name}, {"gpu", s.cluster.gpu.name}, {"gpus_per_node", s.cluster.gpus_per_node},
                  {"nodes", s.cluster.nodes}, {"world_size", s.cluster.world_size()},
                  {"host_ram_bytes", s.cluster.host_ram_bytes}};
  j["training"] = {{"seq_len", s.training.seq_len}, {"global_batch", s.training.global_batch},
                   {"profile", to_string(s.training.profile)}, {"attention", to_string(s.training.attention)},
                   {"framework", to_string(s.training.framework)}};
  j["strategy"] = strategy_to_json(e.strategy);
  nlohmann::json memory = memory_to_json(e.memory);
  memory["gpu"]["limit_bytes"] = e.gpu_limit_bytes;
  memory["gpu"]["allocator_limit_bytes"] = e.allocator_limit_bytes;
  // Capacity minus the predicted device total at the peak (allocator replayed without a cap unless
  // a memory fraction is set), the measured band of this path, and how many runs measured it.
  memory["gpu"]["free_bytes"] = e.free_bytes;
  memory["gpu"]["uncertainty_bytes"] = e.uncertainty_bytes;
  memory["gpu"]["uncertainty_fraction"] = e.uncertainty.fraction;
  memory["gpu"]["measured_runs"] = e.uncertainty.measured_runs;
  memory["gpu"]["uncertainty_path"] = e.uncertainty.path;
  if (!e.uncertainty.borrowed_from.empty()) memory["gpu"]["uncertainty_borrowed_from"] = e.uncertainty.borrowed_from;
  memory["gpu"]["required_free_bytes"] = e.required_free_bytes;
  memory["gpu"]["fits"] = e.gpu_fits;
  memory["gpu"]["band_covered"] = e.band_covered;
  memory["gpu"]["alloc_retries"] = e.alloc_retries;
  memory["gpu"]["largest_at_peak"] = e.largest_at_peak;
  memory["host"]["fits"] = e.host_fits;
  j["memory"] = memory;
  j["time"] = {{"step_seconds", e.time.step_seconds},
               {"tokens_per_second", e.time.tokens_per_second},
               {"compute_seconds", e.time.compute_seconds},
               {"memory_bound_seconds", e.time.memory_bound_seconds},
               {"overhead_seconds", e.time.overhead_seconds},
               {"recompute_seconds", e.time.recompute_seconds},
               {"comm_seconds", e.time.comm_seconds},
               {"offload_seconds", e.time.offload_seconds},
               {"optimizer_seconds", e.time.optimizer_seconds},
               {"overlap_hidden_seconds", e.time.overlap_hidden_seconds},
               {"calibrated", e.time.calibrated}};
  if (e.time.held_out.models > 0) {
    j["time"]["held_out_error"] = {{"mean", e.time.held_out.mean}, {"max", e.time.held_out.max}, {"models", e.time.held_out.models},
                                   {"split", "leave one model out"}};
    // The error of the held-out runs in this step's regime (what bounds it), where the file has it.
    const RegimeError& r = e.time.held_out.of_regime(e.time.host_bound);
    if (r.runs > 0)
      j["time"]["held_out_error"]["regime"] = {{"bound_by", e.time.host_bound ? "host" : "gpu"}, {"mean", r.mean}, {"max", r.max}, {"runs", r.runs}};
    if (r.runs > 0 && r.repeat_groups > 0)
      j["time"]["held_out_error"]["regime"]["repeats"] = {{"configurations", r.repeat_groups}, {"floor", r.repeat_floor}};
  }
  return j;
}

namespace {

// "; held out: off by 8.3% on average, at most 32.7%, on 14 models left out of its fit": the
// calibration's leave-one-model-out error, so a step time is read with the error it had on models
// the fit did not see.
// Where the file splits the error by regime, the runs whose predicted step is bound like this one's:
// "; held out: off by 5.8% on average, at most 32.2%, on the 181 runs whose step the GPU bounds, as
// here (of 15 models left out of its fit)". Where the file has the floor of the regime's repeated
// configurations (repeat_floor.h), it follows: how much of that maximum no model can remove.
std::string held_out_text(const StepTime& t) {
  const HeldOutError& h = t.held_out;
  if (h.models <= 0) return "";
  const RegimeError& r = h.of_regime(t.host_bound);
  char buf[300];
  if (r.runs <= 0) {
    std::snprintf(buf, sizeof buf, "; held out%s: off by %.1f%% on average, at most %.1f%%, on %d models left out of its fit",
                  t.calibration_borrowed ? " on that GPU" : "", 100 * h.mean, 100 * h.max, h.models);
    return buf;
  }
  std::snprintf(buf, sizeof buf,
                "; held out%s: off by %.1f%% on average, at most %.1f%%, on the %d runs whose step %s bounds, as here (of %d models left out of its fit)",
                t.calibration_borrowed ? " on that GPU" : "", 100 * r.mean, 100 * r.max, r.runs,
                t.host_bound ? "the host's dispatch" : "the GPU", h.models);
  if (r.repeat_groups <= 0) return buf;
  // The part of that error no model removes: the same configuration, measured again, moved this much.
  char repeats[200];
  std::snprintf(repeats, sizeof repeats,
                "; runs of one such configuration lie so far apart that no one prediction comes within %.1f%% of all of them "
                "(%d configurations measured more than once)",
                100 * r.repeat_floor, r.repeat_groups);
  return std::string(buf) + repeats;
}

std::string share(uint64_t bytes, uint64_t capacity) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%5.1f%%", capacity ? 100.0 * static_cast<double>(bytes) / static_cast<double>(capacity) : 0.0);
  return buf;
}

void row(std::ostringstream& o, bool md, const std::string& name, uint64_t bytes, uint64_t capacity) {
  char buf[160];
  if (md) std::snprintf(buf, sizeof buf, "| %s | %s | %s |\n", name.c_str(), format_bytes(bytes).c_str(), share(bytes, capacity).c_str());
  else std::snprintf(buf, sizeof buf, "  %-28s %12s  %s\n", name.c_str(), format_bytes(bytes).c_str(), share(bytes, capacity).c_str());
  o << buf;
}

}  // namespace

std::string stack_summary(const TrainingSpec& t) {
  if (t.profile == Profile::zplan) return "zplan's runtime (--profile zplan)";
  const char* fw = t.framework == Framework::deepspeed ? "DeepSpeed"
                   : t.framework == Framework::fsdp2   ? "FSDP2"
                   : t.framework == Framework::ddp     ? "DDP"
                                                       : "a plain PyTorch loop";
  return std::string("Hugging Face transformers + ") + fw + " (--profile hf)";
}

std::string cluster_summary(const ClusterSpec& c) {
  std::string out = std::to_string(c.gpus_per_node) + "x " + c.gpu.name + " per node, " + std::to_string(c.nodes) +
                    (c.nodes == 1 ? " node" : " nodes") + ", host RAM " + format_bytes(c.host_ram_bytes) + " per node";
  if (!c.host_ram_origin.empty()) out += " (" + c.host_ram_origin + ")";
  return out;
}

std::string estimate_to_text(const Estimate& e, const Scenario& s, bool md) {
  std::ostringstream o;
  const MemoryBreakdown& m = e.memory;
  const Strategy& st = e.strategy;
  const uint64_t cap = m.capacity_bytes;
  o << (md ? "### " : "") << s.model.name << " (" << e.parameters / 1000000 << "M params) on " << s.cluster.world_size()
    << "x " << s.cluster.gpu.name << ", seq " << s.training.seq_len << ", predicting " << stack_summary(s.training)
    << (md ? "\n\n" : "\n");
  o << (md ? "" : "  ") << "cluster: " << cluster_summary(s.cluster) << (md ? "\n\n" : "\n");
  o << (md ? "" : "  ") << "strategy: ZeRO-" << st.zero_stage << (st.offload_optimizer ? " +offload-optimizer" : "")
    << (st.offload_params ? " +offload-params" : "") << ", checkpointed layers " << st.checkpointed_layers << "/"
    << s.model.layers << (st.cpu_checkpointing ? " (CPU)" : "") << ", SP " << st.sp_degree << ", micro-batch "
    << st.micro_batch << " x grad-accum " << st.grad_accumulation << ", " << to_string(st.precision) << ", "
    << to_string(s.training.attention)
    << (st.loss_chunks > 1 ? ", loss in " + std::to_string(st.loss_chunks) + " chunks (lm_head + cross-entropy)" : "")
    << (md ? "\n\n" : "\n\n");
  if (md) o << "| component (at the peak, busiest rank) | bytes | of capacity |\n|---|---:|---:|\n";
  else o << "  component (at the peak, busiest rank)      bytes  of capacity\n";
  for (const CategoryInfo& c : kCategories) row(o, md, c.label, m.*(c.member), cap);
  row(o, md, "= peak allocated", m.peak_allocated_bytes, cap);
  row(o, md, "+ fragmentation (reserved)", m.fragmentation_bytes, cap);
  row(o, md, "+ CUDA context / NCCL", m.cuda_context_bytes, cap);
  row(o, md, "= device total", m.device_total_bytes(), cap);
  row(o, md, "capacity", cap, cap);
  o << (md ? "\n" : "\n  ") << "peak in phase " << to_string(m.peak_phase) << "; largest tensor there: " << e.largest_at_peak
    << "\n";
  o << (md ? "\n" : "  ") << "phases (allocated at end / peak inside):";
  for (const PhaseMemory& p : m.phases)
    o << (md ? " " : " ") << to_string(p.phase) << " " << format_bytes(p.allocated_bytes) << "/"
      << format_bytes(p.peak_allocated_bytes) << ";";
  o << "\n";
  char buf[512];
  std::snprintf(buf, sizeof buf, "step %.3f s, %.0f tokens/s (cluster; step time %s%s)", e.time.step_seconds, e.time.tokens_per_second,
                !e.time.calibrated ? "uncalibrated: no calibration for this GPU and profile"
                : e.time.calibration_borrowed ? "calibrated on another GPU of this architecture" : "calibrated",
                held_out_text(e.time).c_str());
  o << (md ? "\n" : "  ") << "host RAM per node: " << format_bytes(m.host.peak_bytes) << " of "
    << format_bytes(m.host.capacity_bytes) << "; " << buf << "\n";
  o << (md ? "\n**" : "\n") << e.verdict << (md ? "**\n" : "\n");
  return o.str();
}

}  // namespace zplan

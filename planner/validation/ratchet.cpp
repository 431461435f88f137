// The accepted-error ratchet (see ratchet.h).
#include "planner/validation/ratchet.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "planner/input_error.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/memory/exec_context.h"
#include "planner/memory/step_simulation.h"

namespace zplan {
namespace {

double rounded(double x) { return std::round(x * 1e4) / 1e4; }

std::string pct(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.2f%%", 100.0 * x);
  return buf;
}

// The quantities the ratchet holds, by their key in the file.
struct Quantity {
  const char* key;
  double ValidationRow::*error;
};
constexpr Quantity kQuantities[] = {{"peak_error", &ValidationRow::peak_error},
                                    {"reserved_error", &ValidationRow::reserved_error},
                                    {"outside_error", &ValidationRow::outside_error},
                                    {"host_error", &ValidationRow::host_error},
                                    {"step_error", &ValidationRow::step_error}};

}  // namespace

std::string record_name(const ValidationRow& r) {
  return r.group + "/" + std::filesystem::path(r.file).stem().string();
}

nlohmann::json accepted_errors_json(const std::vector<ValidationRow>& rows, const std::string& command) {
  nlohmann::json j;
  j["generated_by"] = command;
  j["rule"] = "relative errors (predicted - measured) / measured; a record may not move more than one percentage "
              "point further from its measurement than accepted here";
  nlohmann::json records = nlohmann::json::object();
  for (const ValidationRow& r : rows) {
    nlohmann::json a;
    a["path"] = r.path.str();
    if (r.measured_oom) {
      a["oom"] = true;
    } else {
      for (const Quantity& q : kQuantities) a[q.key] = rounded(r.*(q.error));
      if (r.measured_outside_bytes == 0) a.erase("outside_error");
      if (r.measured_host_bytes == 0) a.erase("host_error");
      if (!r.has_step_time()) a.erase("step_error");
    }
    records[record_name(r)] = a;
  }
  j["records"] = records;
  return j;
}

std::vector<std::string> ratchet_violations(const std::vector<ValidationRow>& rows, const nlohmann::json& accepted,
                                            const std::string& where) {
  if (!accepted.is_object() || !accepted.contains("records") || !accepted.at("records").is_object())
    throw InputError(where, "records", "missing or not an object");
  const nlohmann::json& records = accepted.at("records");
  std::vector<std::string> out;
  for (const ValidationRow& r : rows) {
    const std::string name = record_name(r);
    if (!records.contains(name)) {
      out.push_back(name + ": not in " + where + " (accept it on purpose: zplan validate ... --accept)");
      continue;
    }
    const nlohmann::json& a = records.at(name);
    if (r.measured_oom) {
      if (!r.predicted_oom) out.push_back(name + ": the run ran out of memory, the prediction says it fits");
      continue;
    }
    for (const Quantity& q : kQuantities) {
      if (!a.contains(q.key)) continue;
      // A step time that is not a steady state is not held (accepted_errors_json drops it too).
      if (q.error == &ValidationRow::step_error && !r.has_step_time()) continue;
      if (!a.at(q.key).is_number()) throw InputError(where, "records." + name + "." + q.key, "expected a number");
      const double was = a.at(q.key).get<double>(), now = r.*(q.error);
      if (std::abs(now) > std::abs(was) + kRatchetSlack + 1e-9)
        out.push_back(name + ": " + q.key + " " + pct(now) + ", accepted " + pct(was) + " (more than 1 point worse)");
    }
  }
  return out;
}

std::vector<std::string> band_violations(const std::vector<PathBand>& measured, const std::vector<PathBand>& committed) {
  std::vector<std::string> out;
  for (const PathBand& m : measured) {
    const PathBand* c = nullptr;
    for (const PathBand& b : committed)
      if (b.key == m.key) c = &b;
    if (!c) {
      out.push_back("path " + m.key.str() + ": measured (" + std::to_string(m.runs) + " runs) but has no committed band");
      continue;
    }
    if (c->runs != m.runs)
      out.push_back("path " + m.key.str() + ": " + std::to_string(m.runs) + " runs, the committed band counts " +
                    std::to_string(c->runs));
    if (m.p95_abs_error > c->p95_abs_error + kRatchetSlack + 1e-9)
      out.push_back("path " + m.key.str() + ": reserved band " + pct(m.p95_abs_error) + ", verdicts print " +
                    pct(c->p95_abs_error) + " (more than 1 point wider)");
  }
  return out;
}

std::vector<std::string> derivation_violations() {
  std::vector<std::string> out;
  // GPT-2 XL (1.56e9 parameters, more than one bucket) on 4 V100s in fp16 under DeepSpeed, with
  // DeepSpeed's default reduce_bucket_size of 5e8 elements. stage_1_and_2.py keeps two 16-bit
  // ipg buffers of that size with overlap_comm (one without); stage3.py one flat bucket.
  const ModelSpec m = load_model("gpt2-xl");
  const ClusterSpec cluster = cluster_from_gpus_flag("4xV100");
  struct Case {
    int stage;
    int overlap_comm;
    int buckets;
  };
  for (const Case& k : {Case{2, 1, 2}, Case{2, 0, 1}, Case{3, 1, 1}}) {
    TrainingSpec t;
    t.seq_len = 1024;
    t.profile = Profile::hf;
    t.framework = Framework::deepspeed;
    t.overlap_comm = k.overlap_comm;
    Strategy st;
    st.precision = Precision::fp16;
    st.zero_stage = k.stage;
    const ExecContext c = make_exec_context(t, st, cluster.world_size());
    const Timeline tl = build_step_timeline(m, t, st, c, TimelineRecording::named_events);
    // The most reduce-bucket bytes alive at once over the simulated steps.
    uint64_t live = 0, predicted = 0;
    for (const AllocEvent& e : tl.events()) {
      if ((e.kind != AllocEvent::Kind::alloc && e.kind != AllocEvent::Kind::free) || tl.name(e.handle) != "reduce bucket") continue;
      const uint64_t bytes = e.bytes * static_cast<uint64_t>(e.count);
      live = e.kind == AllocEvent::Kind::alloc ? live + bytes : live - bytes;
      predicted = std::max(predicted, live);
    }
    const uint64_t derived = static_cast<uint64_t>(k.buckets) * static_cast<uint64_t>(t.reduce_bucket_elems) * 2;
    if (predicted != derived)
      out.push_back("DeepSpeed ZeRO-" + std::to_string(k.stage) + (k.overlap_comm ? " with" : " without") +
                    " overlap_comm: reduce buckets " + std::to_string(predicted) + " bytes, DeepSpeed allocates " +
                    std::to_string(derived) + " (" + std::to_string(k.buckets) + " x reduce_bucket_size x 2 bytes)");
  }
  return out;
}

}  // namespace zplan

// Planner speed benchmark: times, in one run and side by side, (1) one full prediction (timeline +
// caching-allocator replay) and (2) the plan search of the mission scenario, and prints candidates
// evaluated per second and each figure's ratio to its target (50 ms per prediction including
// process start, 200 ms per search). Process start-up is measured by tools/bench_planner.sh.
// Build: cmake --build --preset release --target zplan_bench; run: build/release/tools/zplan_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "planner/estimate.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/search/search.h"

using namespace zplan;

namespace {

template <typename F>
double median_seconds(int repeats, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main() {
  Scenario s;
  s.model = load_model("qwen3-30b-a3b");
  s.cluster = cluster_from_gpus_flag("8xH100");
  s.training.seq_len = 16384;
  s.training.framework = Framework::deepspeed;
  Strategy st;
  st.zero_stage = 3;
  st.checkpointed_layers = s.model.layers;
  st.sp_degree = 8;
  volatile uint64_t sink = 0;
  const double one = median_seconds(21, [&] { sink = sink + estimate(s.model, s.cluster, s.training, st).memory.peak_allocated_bytes; });
  EstimateOptions fast;
  fast.fast = true;
  const double screen = median_seconds(21, [&] { sink = sink + estimate(s.model, s.cluster, s.training, st, fast).memory.peak_allocated_bytes; });
  int64_t evaluated = 0;
  const double search = median_seconds(5, [&] { evaluated = search_plan(s, {}).evaluated; });
  std::printf("qwen3-30b-a3b, 8x h100-80gb, seq 16384 (median of repeated runs, this process)\n");
  std::printf("  one full prediction       %8.2f ms   target 50 ms   ratio %.2f\n", one * 1e3, one / 0.050);
  std::printf("  one screening estimate    %8.2f ms   (no allocator replay)\n", screen * 1e3);
  std::printf("  plan search               %8.2f ms   target 200 ms  ratio %.2f   (%lld candidates, %.0f candidates/s)\n",
              search * 1e3, search / 0.200, static_cast<long long>(evaluated), static_cast<double>(evaluated) / search);
  return sink == 0 ? 1 : 0;
}

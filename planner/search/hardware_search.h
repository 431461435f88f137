// Search over hardware and price: for each GPU type in a list and each count (1, 2, 4, 8, then
// whole 8-GPU nodes in powers of two up to a maximum) run the plan search (search.h) and rank the
// (GPU, count, plan) triples by dollars per million tokens (cost) or tokens per second (time).
// Counts whose GPU memory plus host RAM cannot hold the model states are skipped. Every
// (GPU, count, layout) triple gets an optimistic throughput bound (the layout's step time at the
// largest micro-batch whose logits fit, without recompute), tightened to the screen's (search.h)
// when the triple is screened; candidates are refined and searched best bound first until no bound
// can beat the best plan found (branch and bound), so the answer is the exhaustive search's.
// docs/cost-model.md.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "planner/cost/calibration.h"
#include "planner/search/search.h"

namespace zplan {

enum class HardwareObjective { cost, time };

struct HardwareSearchOptions {
  SearchOptions search;               // per-cluster plan search (objective throughput)
  HardwareObjective objective = HardwareObjective::cost;
  int max_gpus = 64;
  const Calibration* calibration = nullptr;  // --calibration; built-in calibrations otherwise
  double tokens = 0;                  // --tokens: print time and cost to train this many
  bool prune = true;                  // false: search every candidate in full (benchmarks, tests)
};

struct HardwareCandidate {
  ClusterSpec cluster;
  double price_per_gpu_hour = 0;
  bool calibrated = false;
  double bound_tokens_per_second = 0;  // optimistic throughput bound used for pruning (best layout's)
  double screened_bound_tokens_per_second = 0;  // tighter: the fastest candidate its screen passed, once screened
  double pruned_bound_tokens_per_second = 0;    // the bound that pruned it, when pruned
  std::vector<std::pair<Strategy, double>> layouts;  // each layout with its throughput bound
  bool searched = false;
  std::string skipped;                 // why it was not searched (memory, bound), when not
  Plan plan;                           // when searched
  double tokens_per_second = 0;        // of the chosen plan, whole cluster
  double dollars_per_million_tokens = 0;
};

struct HardwarePlan {
  bool feasible = false;
  std::vector<HardwareCandidate> ranked;     // feasible, best first
  std::vector<HardwareCandidate> others;     // infeasible or pruned, for --explain
  int searched = 0;                          // (GPU, count) candidates whose layouts were searched
  int layouts_searched = 0;                  // layouts the searched candidates covered
  std::string needed;                        // when nothing fits: what would be needed
};

// Fewest GPUs of this type whose device memory plus their share of host RAM can hold the model
// states (16-bit weights and gradients, fp32 master and Adam moments; offload moves them, it does
// not remove them). Below it no strategy can fit.
int min_gpus_for_model_states(const ModelSpec& m, const ClusterSpec& one_node_of_this_gpu, Precision precision);

// Counts searched: 1, 2, 4, 8, 16, ... up to max_gpus (whole nodes above 8).
std::vector<int> gpu_counts(int max_gpus);

// The cluster of `count` GPUs of this type: one node up to 8, then 8-GPU nodes; host RAM, cores
// and inter-node bandwidth from the built-in cluster of that GPU when there is one.
ClusterSpec cluster_of(const GpuSpec& gpu, int count);

HardwarePlan search_hardware(const Scenario& base, const std::vector<GpuSpec>& gpus, const HardwareSearchOptions& options);

}  // namespace zplan

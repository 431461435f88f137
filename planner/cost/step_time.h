// Step-time model: the terms of planner/cost/step_terms.h (GEMM rooflines, attention kernels,
// memory-bound ops, kernel launches, micro-step overhead, exposed collectives, offload), each
// weighted by one free constant of CostOptions, the GPU's and the host's overlapped as
// planner/cost/host_device_overlap.h says. The plan search ranks by this function and reports
// print it: one home. docs/cost-model.md gives each term, its source and fitted values.
#pragma once
#include <string>

#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "planner/cost/step_terms.h"

namespace zplan {

// The error of one regime of held-out runs: those whose predicted step the GPU's work bounds
// (device seconds >= host dispatch seconds, host_device_overlap.h), or the host's dispatch.
struct RegimeError {
  double mean = 0, max = 0;  // |predicted - measured| / measured
  int runs = 0;
  // Configurations bound like this measured more than once (identical terms, so one prediction for
  // all: planner/validation/repeat_floor.h), and the largest (slowest - fastest) / (slowest +
  // fastest) among them: no prediction comes closer than that to every run of that configuration.
  // repeat_groups == 0: none repeated, or a file written before it was kept.
  double repeat_floor = 0;
  int repeat_groups = 0;
};

// How far the step-time model missed on measured runs it was not fitted on: `zplan calibrate`'s
// leave-one-model-out error for the calibration's GPU and profile (planner/validation/
// calibration_run.h). models == 0: not known (uncalibrated, or a file written before it was kept).
struct HeldOutError {
  double mean = 0, max = 0;  // |predicted - measured| / measured
  int models = 0;
  // Every residual of a run the fit did not see (leave-one-model-out and the held-out runs), split
  // by what bounds the predicted step: host-bound steps carry the host's run-to-run variation and a
  // launch cost that differs per family (docs/cost-model.md, "Held-out error by regime").
  RegimeError device_bound, host_bound;
  const RegimeError& of_regime(bool host_bound_step) const { return host_bound_step ? host_bound : device_bound; }
};

struct StepTime {
  double compute_seconds = 0;      // matmuls and attention (recompute included)
  double memory_bound_seconds = 0; // norms, activations, loss path, casts, optimizer (recompute included)
  double overhead_seconds = 0;     // the kOverheadTerms: launches, per-micro-step overhead, host syncs, hooks
  double recompute_seconds = 0;    // part of the above spent re-running checkpointed layers
  double comm_seconds = 0;         // exposed (not overlapped) collective time
  double offload_seconds = 0;      // PCIe transfers + CPU optimizer not hidden behind compute (DeepSpeed's
                                   // offloaded step included)
  double optimizer_seconds = 0;    // GPU optimizer step (part of memory_bound_seconds)
  double overlap_hidden_seconds = 0;  // what the host's dispatch and the GPU's work hide of each other
                                      // (host_device_overlap.h): the parts above minus this = step_seconds
  double step_seconds = 0;
  double tokens_per_second = 0;    // whole cluster
  double model_flops_per_token = 0;
  bool calibrated = false;         // constants from a calibration file, not the documented defaults
  bool calibration_borrowed = false;  // ... of another GPU of the same architecture (calibration_loader.h)
  HeldOutError held_out;           // of the calibration behind these constants
  bool host_bound = false;         // the host's dispatch, not the GPU's work, bounds this step
};

// The free constants, one per term, in one place. Defaults are documented guesses (sources in
// docs/cost-model.md) used for GPUs without a calibration; `zplan calibrate` fits them per GPU and
// profile from measured step times (hardware/calibration/*.yaml, --calibration FILE).
struct CostOptions {
  double matmul_efficiency = 0.60;          // achieved / peak dense tensor-core FLOP/s of large GEMMs
  double attention_efficiency = 0.35;       // FlashAttention-2 on Hopper (FA3 paper: ~35% of peak)
  double memory_bw_efficiency = 0.70;       // elementwise kernels reach 70-90% of HBM bandwidth
  double optimizer_traffic_factor = 2.0;    // HBM time of AdamW / its minimal traffic at full bandwidth
  double kernel_overhead_seconds = 10e-6;   // eager PyTorch dispatch + CUDA launch, per kernel
  double micro_step_overhead_seconds = 2e-3;  // loop, loss sync, allocator per forward/backward pass
  double link_efficiency = 0.70;            // achieved fraction of NVLink/IB bandwidth (NCCL busbw)
  double offload_efficiency = 0.80;         // achieved fraction of PCIe bandwidth and CPU Adam rate
  double host_sync_seconds = 50e-6;         // a sync drains the GPU's queue: the launch pipeline is exposed
  double offload_step_efficiency = 1.0;     // achieved fraction of host memory and PCIe bandwidth in DeepSpeed's
                                            // offloaded step (pinned buffers; 1 = the profiles' rates, not fitted)
  double zero2_hook_seconds = 0.02e-3;      // DeepSpeed ZeRO-2, per parameter tensor and micro-step (the gradient
                                            // hook: bucket copy, reduction bookkeeping, copy into the partition):
                                            // the median over four ZeRO-1/ZeRO-2 pairs measured in one call each of
                                            // (ZeRO-2 - ZeRO-1 step) / tensors: 0.20, 0.04, 0.00, -0.07 ms
                                            // (docs/cost-model.md, DeepSpeed)
  double checkpoint_hook_seconds = 90e-6;  // transformers' torch.utils.checkpoint, per op of a wrapped layer and
                                            // micro-step: measured on an H100 host (tools/gpu/measure_host_phases.py,
                                            // Qwen3-0.6B at 512 tokens, docs/measurements/2026-12-07/call22): full
                                            // recompute added 173 ms, of which 1456 relaunched kernels ~39 ms
  double zero3_hook_seconds = 0.40e-3;      // DeepSpeed ZeRO-3, per module and pass (pre + post hook: fetch,
                                            // trace, release): estimated from the last step of the 4 "dev"
                                            // ZeRO-3 records, scored on the 3 held out (docs/cost-model.md)
  // Mechanism constants inside the terms (not fitted: overlaps, rates, pass and byte counts;
  // each with its source in step_terms.h): compute/copy overlap is comm_overlap and
  // cpu_checkpoint_exposed_share there; the optimizer pass's bytes per parameter are
  // optimizer_pass_bytes_per_param(); PCIe and HBM rates are the hardware profile's datasheet values.
  StepMechanisms mechanisms;
  std::string calibration;                  // "" = uncalibrated defaults; else the file it came from
  bool calibration_borrowed = false;        // ... a file of another GPU of the same architecture
  HeldOutError held_out;                    // that calibration's leave-one-model-out error
};

// Seconds per unit of each term (1/efficiency for rates, the overhead for counts), and back.
StepTermVector term_weights(const CostOptions& o);
CostOptions with_term_weights(CostOptions o, const StepTermVector& weights);

StepTime estimate_step_time(const ModelSpec& m, const ClusterSpec& cluster,
                            const TrainingSpec& training, const Strategy& s,
                            const CostOptions& options = {});

}  // namespace zplan

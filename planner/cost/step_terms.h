// The step-time model's terms, each a physical quantity of one optimizer step computed at the
// datasheet rates of the hardware profile (100% of peak FLOP/s, HBM, link and PCIe bandwidth) or a
// count. The step time is their weighted sum, the weights being the model's free constants
// (CostOptions in step_time.h); `zplan calibrate` fits those weights by least squares against
// measured step times, which is why the terms are kept apart here. docs/cost-model.md gives each.
#pragma once
#include <array>
#include <cstddef>
#include <utility>

#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"

namespace zplan {

enum StepTerm : size_t {
  kMatmulTerm,        // seconds: every GEMM at max(FLOPs / peak, bytes / HBM) (a roofline per shape)
  kAttentionTerm,     // seconds: attention score and value products (kernel-specific FLOPs) at peak
  kMemoryBoundTerm,   // seconds: norms, activations, RoPE, residuals, loss path, casts, optimizer at HBM
  kOptimizerTerm,     // seconds: the optimizer's minimal HBM traffic (read states, write them) at HBM
  kKernelTerm,        // count: kernels launched per step (framework dispatch + launch latency each)
  kMicroStepTerm,     // count: forward/backward passes per step (loop, loss and sync overhead each)
  kCommTerm,          // seconds: exposed collective traffic at the link's datasheet bandwidth
  kOffloadTerm,       // seconds: CPU-checkpoint copies over PCIe at datasheet bandwidth
  kHostSyncTerm,      // count: host-device synchronisations inside a pass (the GPU drains, the CPU waits)
  kOffloadStepTerm,   // seconds: DeepSpeed's offloaded step (CPU Adam at host memory bandwidth, its PCIe
                      // copies, ZeRO-3 parameter offload's weight streams), deepspeed_step.h
  kZero3HookTerm,     // count: module passes under DeepSpeed ZeRO-3's pre/post hooks (deepspeed_step.h)
  kZero2HookTerm,     // count: parameter tensors through DeepSpeed ZeRO-2's gradient hook (deepspeed_step.h)
  kCheckpointHookTerm,  // count: ops of the layers transformers wraps in torch.utils.checkpoint, per
                        // micro-step (their saved tensors pass through its Python hooks forward and
                        // again in the recompute); zplan's runtime checkpoints in C++ (none)
  kStepTermCount
};
using StepTermVector = std::array<double, kStepTermCount>;

// The terms that are counts of an overhead (their weight is seconds per count, never below zero):
// calibration bounds them, reports sum them as overhead_seconds.
inline constexpr std::array<StepTerm, 6> kOverheadTerms = {kKernelTerm,    kMicroStepTerm, kHostSyncTerm,
                                                           kZero3HookTerm, kZero2HookTerm, kCheckpointHookTerm};

// Short names used in calibration files and reports ("matmul", "attention", ...).
const char* step_term_name(size_t term);

struct StepTerms {
  StepTermVector total{};            // the whole step
  StepTermVector recompute{};        // the part spent re-running checkpointed layers' forward
  double model_flops_per_token = 0;  // 6 x active parameters + attention (no recompute)
  double tokens_per_step = 0;        // whole cluster: B x T x grad-accumulation x DP
};

// The constants inside the terms: counts and shares of a mechanism, each from a source, not
// fitted (the fitted weights are CostOptions' efficiencies in step_time.h). Named here so that a
// change is one edit; docs/cost-model.md gives each term.
struct StepMechanisms {
  // ---- overlap of communication and copies with compute ----
  double comm_overlap = 0.5;                  // share of gradient/param collectives hidden by backward
                                              // (a guess: the records hold too few multi-GPU runs to fit it)
  double cpu_checkpoint_exposed_share = 0.5;  // share of CPU-checkpoint copies (out and back) not hidden
                                              // (a guess, as comm_overlap; DeepSpeed copies on the compute stream)
  // ---- the host's dispatch against the GPU's work (planner/cost/host_device_overlap.h) ----
  double host_device_overlap_norm = 2.0;      // p of (device^p + host^p)^(1/p): 1 = no overlap (the sum),
                                              // large = perfect overlap (the max). Chosen, not fitted per GPU:
                                              // of 1, 2, 3, 4 and the max, 2 gave the lowest leave-one-model-out
                                              // error of zplan's H100 records (docs/cost-model.md)
  // ---- the CPU optimizer (DeepSpeedCPUAdam, csrc/includes/cpu_adam.h Step_AVX) ----
  double cpu_adam_bytes_per_param = 28.0;     // reads fp32 param, grad, exp_avg, exp_avg_sq (16 B), writes
                                              // param and both moments (12 B): it streams host memory
  double cpu_adam_params_per_second_per_core = 1.0e9;  // arithmetic ceiling per core: 16 (AVX-512) lanes
                                              // per ~16 cycles (one vsqrtps and one vdivps, reciprocal
                                              // throughput ~6 and ~5 cycles, uops.info) at ~2 GHz, halved
                                              // for AVX2; on server hosts memory bandwidth binds first
  // ---- work of a training pass relative to its forward ----
  double training_passes_per_forward = 3.0;   // forward + input-gradient + weight-gradient GEMMs (and
                                              // memory-bound ops, kernels) per layer
  double flash_attention_backward_ratio = 2.5;  // FlashAttention-2: five products in backward to two forward
  double eager_attention_backward_ratio = 2.0;  // eager: gradients of both T x T products
  // Flash attention runs at a rate that grows with the keys each query sees: per (sequence, head) it
  // pays a fixed cost (tile setup, softmax rescaling at tile edges, the backward's preprocessing
  // kernels) besides work proportional to T x keys, so its time is FLOPs / rate x (1 + this / keys).
  // Fitted to cuDNN's SDPA forward + backward, causal, head dim 128, 2K-32K tokens, 16 and 32 heads on
  // an H100 (tools/gpu/measure_rates.py, docs/measurements/2026-12-06/call3/rates_h100.json; 4.1% mean,
  // 13% max error over those 12 shapes): 1410 keys, at 632 TFLOP/s. The rate's scale is the
  // calibrated attention_efficiency; this length is taken as the kernel's, on every GPU.
  double flash_attention_half_rate_keys = 1410.0;
  // Flash attention's rate by head dimension, relative to head dim 128 (the kernel's tiles suit 128
  // best; 64, 96 and 256 all run about a quarter slower): cuDNN's SDPA forward + backward, causal,
  // bf16, at 16K and 32K tokens on an H200 (tools/gpu/measure_rates.py --attention-shapes
  // 16x8x128,32x8x64,32x8x96,8x8x256, docs/measurements/2026-12-06/call15/rates_attention_headdim.json).
  // Only the part proportional to FLOPs slows: time = FLOPs / rate x (1 / this + half_rate_keys /
  // keys), within 6% of the measured time ratios at 8K-32K. Linear between the measured head dims,
  // flat beyond them; 16-bit kernels only (fp32 runs the memory-efficient kernel).
  std::array<std::pair<double, double>, 4> flash_attention_head_dim_rates{{{64, 0.757}, {96, 0.772}, {128, 1.0}, {256, 0.774}}};
  // A sliding-window layer past its window is masked explicitly (transformers' sdpa mask, zplan's
  // runtime's boolean [B, 1, T, T] mask): SDPA cannot take the flash kernel with an arbitrary mask and
  // runs the memory-efficient one over all T x T scores, masked ones included, at a rate that no
  // longer grows with length from 8K (no per-row fixed cost worth a term). That rate, counted on the
  // full T x T FLOPs, relative to the flash kernel's saturated rate at the same head dimension
  // (632 TFLOP/s x the head-dim rate on an H100): 0.43, 0.43, 0.44 (4 heads of 256 at 8K, 16K, 32K)
  // and 0.49, 0.48, 0.44 (32 heads of 128) (tools/gpu/measure_masked_attention.py,
  // docs/measurements/2026-12-07/call20/masked_attention.json); 4 heads of 256 at 4K ran at 0.36.
  double masked_attention_rate = 0.45;
  // ---- bytes moved per element ----
  double loss_path_bytes_per_logit = 30.0;    // 16-bit logits, fp32 upcast, log-softmax and its gradient
  double amp_cast_bytes_per_param = 6.0;      // AMP: read fp32 (4) + write 16-bit (2) per weight cast
  double optimizer_kernels_per_tensor = 2.0;  // AdamW launches per parameter tensor (foreach: ~2 per state)
};

// AdamW's HBM traffic per local parameter. generic (torch AdamW, DeepSpeed): read weights,
// gradients, the fp32 master copy and both moments, write all but the gradients, plus the fp32
// gradient copy of 16-bit recipes. zplan's runtime on fp32 masters (training_spec.h AdamWImpl):
// fused_master reads the 16-bit gradient, reads and writes master and moments and writes the 16-bit
// weight (28 B in bf16); upcast also writes and reads an fp32 copy of the gradient and reads the
// master again to copy it back (40 B).
enum class OptimizerPass { generic, fused_master, upcast };
double optimizer_pass_bytes_per_param(Precision precision, OptimizerPass pass = OptimizerPass::generic);

// flash_attention_head_dim_rates at `head_dim` (linear between the measured head dims, flat beyond).
double flash_attention_head_dim_rate(const StepMechanisms& k, double head_dim);

StepTerms step_terms(const ModelSpec& m, const ClusterSpec& cluster, const TrainingSpec& training,
                     const Strategy& s, const StepMechanisms& k = {});

}  // namespace zplan

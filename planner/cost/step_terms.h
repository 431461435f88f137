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
  // A 16-bit GEMM whose k or n is not a multiple of 8 elements (GPT-2's lm_head: 50257 tokens of
  // vocabulary) cannot use Hopper's kernels: cuBLAS runs CUTLASS's sm75 `s1688gemm ... align1` ones,
  // at this share of the rate of the same GEMM with n padded to a multiple of 64. Measured on an H100,
  // GPT-2's lm_head shapes, forward and both gradients: median 0.177 (bf16) and 0.182 (fp16), 0.13-0.22
  // over 18 products each; fp32 (TF32 off) runs the same kernels either way, 0.998
  // (tools/gpu/measure_gemm_alignment.py, docs/measurements/2026-12-08/call31/gemm_alignment.json).
  double misaligned_gemm_rate = 0.18;
  // torch._grouped_mm (the MoE experts of transformers and zplan's runtime: one CUTLASS kernel for all
  // experts) runs at rows / (rows + this) of the rate of one dense GEMM over the same rows, rows being
  // the tokens each expert receives: per-group setup and partly filled tiles cost as much as this many
  // rows. Least squares over 18 shapes (Qwen3-30B-A3B, Qwen1.5-MoE, Mixtral; 256-8192 rows per expert;
  // forward + both gradients) on an H100: 210 rows, 4% mean and 10% max error
  // (tools/gpu/measure_grouped_mm.py, docs/measurements/2026-12-08/call31/grouped_mm.json).
  double grouped_gemm_half_rate_rows = 210.0;
  // ---- bytes moved per element ----
  double loss_path_bytes_per_logit = 30.0;    // 16-bit logits, fp32 upcast, log-softmax and its gradient
  // zplan's runtime gathers each MoE layer's rows three times (index_select: tokens to their k
  // experts' slots, into expert order, back); each gather's backward is index_add_, which in 16 bits
  // adds element by element with atomics at a small share of HBM bandwidth. Its time in bytes per
  // added element at the fitted HBM rate of zplan's profile on an H100 (3.35 TB/s x 0.834): 2.37 ms
  // for 131072 x 2048 bf16 elements (Qwen3-30B-A3B, 16K tokens a micro-step) and 0.57 ms for a
  // quarter of them, from kernel profiles (tools/gpu/expert_loop_check.sh, profile_q30_4l_mb4 and
  // _mb1, docs/measurements/2026-12-08/call31/loop). Atomics run in the L2 cache: a GPU whose HBM is
  // faster but whose die is the same (H200) gains less than this scales by.
  double index_add_16bit_bytes_per_element = 24.0;
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

// DeepSpeed's host-side step mechanisms (DeepSpeed 0.19, runtime/zero/stage_1_and_2.py, stage3.py,
// parameter_offload.py, partitioned_param_coordinator.py, csrc/adam/cpu_adam_impl.cpp), priced
// for the step-time model (step_terms.h, docs/cost-model.md "DeepSpeed"):
//
//  * the offloaded optimizer step: DeepSpeedCPUAdam streams the fp32 parameter, gradient and both
//    moments of the rank's shard through host memory (AVX-512/AVX2 across OpenMP threads, one
//    tile at a time), then the fp32 partition is cast to 16 bits on the host; the step runs after
//    backward and before the next forward (not overlapped with the GPU);
//  * its PCIe traffic: fp32 gradients down during backward (stages 1/2: on the compute stream,
//    "copy_grad_stream is disabled"; stage 3: on the reduce-and-partition stream, which
//    overlap_comm lets run beside backward), 16-bit parameters up after the step, and with ZeRO-3
//    parameter offload the 16-bit weights up at every fetch (forward, backward, recompute);
//  * ZeRO-3's module hooks: a pre and a post hook around every module's forward and backward
//    (fetch, trace bookkeeping, release), registered on every module of the tree;
//  * ZeRO-3's one-time trace scan: the step that first runs with a complete module trace pays it
//    (deepspeed_first_steady_step below), the steps after it do not.
#pragma once
#include <cstdint>

#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"

namespace zplan {

struct StepMechanisms;

// Modules of the Hugging Face (transformers 5) model tree of `m`: ZeRO-3 hooks each of them,
// with or without parameters (parameter_offload.py _register_deepspeed_module recurses into every
// child). Per decoder layer `layer`, and outside the layers (CausalLM, base model, embeddings,
// final norm, lm_head, rotary embedding or position table).
double hf_layer_modules(const ModelSpec& m, int64_t layer);
double hf_top_modules(const ModelSpec& m);

// DeepSpeed's ZeRO-3 hooks run on the model: a Hugging Face model under DeepSpeed at stage 3.
bool runs_deepspeed_zero3_hooks(const TrainingSpec& training, const Strategy& s);

// Module passes (one pre + post hook pair each) of one optimizer step under ZeRO-3: every module
// in forward and backward, the checkpointed layers' modules again in recompute, per micro-step.
double zero3_hooked_module_passes(const ModelSpec& m, const Strategy& s);

// DeepSpeed's gradient hook does the work of a reduction per parameter tensor, in Python, as each
// gradient is produced (stage_1_and_2.py process_gradients -> reduce_independent_p_g_buckets_and_
// remove_grads): at stage 2 (partition_gradients), and at stage 1 only with overlap_comm (off by
// default there); stage 1 otherwise reduces after backward, in one pass. A Hugging Face model.
bool runs_deepspeed_gradient_hooks(const TrainingSpec& training, const Strategy& s);

// GPU bytes per step of those hooks' copies: each gradient into the contiguous bucket, the
// bucket's in-place average (a pass even at one rank), and the reduced gradient into the rank's
// partition buffer: three reads and three writes of the 16-bit gradient, per micro-step.
double deepspeed_gradient_hook_bytes(const ModelSpec& m, const Strategy& s);

// The first step (1-based) whose time is the steady step a long run repeats. Every loop pays
// warm-up in step 1 (allocator growth, kernel selection, lazy initialisation). DeepSpeed ZeRO-3
// also pays once in step 2: the parameter coordinator records the module trace in step 1 and
// marks it complete when step 2 starts; from then each module's release asks which parameters
// are reused soon (partitioned_param_coordinator.py __params_to_release), which scans the trace
// ahead of it, module by module and parameter by parameter, up to stage3_max_reuse_distance
// elements: quadratic in the modules, and memoised per (module, step position), so only step 2
// pays it (Qwen3-0.6B on an H200: 2.49 s in step 2, 0.50 s in step 3). The model prices the
// steady step, so a record's measured step is taken from this step on (run_record.cpp).
int deepspeed_first_steady_step(const TrainingSpec& training, const Strategy& s);

// Host memory bandwidth one rank's CPU work can draw, bytes/s (the node's, shared by its GPUs).
double host_memory_bytes_per_second_per_rank(const ClusterSpec& cluster);

// Seconds, at the cluster profile's datasheet rates, of the offloaded optimizer step of one rank
// (CPU Adam and the 16-bit cast at host memory bandwidth, bounded by the cores' arithmetic rate)
// and of its exposed PCIe copies; with parameter offload, of the weight streams of every pass.
// 0 when nothing is offloaded.
double offloaded_step_seconds(const ModelSpec& m, const ClusterSpec& cluster, const TrainingSpec& training,
                              const Strategy& s, const StepMechanisms& k);

// Parts of offloaded_step_seconds (for tests and reports).
double cpu_adam_seconds(double shard_params, const ClusterSpec& cluster, Precision precision, const StepMechanisms& k);

}  // namespace zplan

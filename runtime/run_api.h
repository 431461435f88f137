// run_api.h: the runtime's entry point for the CLI (`zplan --run`) and tools: train a ModelSpec
// with a TrainingSpec + Strategy on one device per rank (CUDA when libtorch has it and a GPU is
// present, else CPU) and return the measured MemoryBreakdown in the same shape the planner predicts.
// No torch header is included here, so callers compile without libtorch's include paths.
//
// Ranks: this process's place comes from torchrun's environment (runtime/dist/launch_env.h); with
// none it is one rank alone. Several ranks form a c10d process group (NCCL on GPUs, Gloo on CPUs)
// and run data parallelism with ZeRO stage 0..3 (runtime/train/zero_sharding.h; buckets of
// TrainingSpec::reduce_bucket_elems elements). With one rank zero_stage 1..3 are no-ops.
// Ulysses sequence parallelism runs in groups of sp_degree consecutive ranks (sp_degree dividing
// the world size and model.heads). What the runtime can execute is stated in
// planner/config/runtime_support.h; anything else (offloads, amp_* precisions) is rejected with
// InputError. grad_accumulation micro-steps run before each optimizer step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "planner/memory/memory_breakdown.h"
#include "runtime/train/trainer_options.h"

namespace zplan {

struct RunOptions {
  int steps = 3;               // optimizer steps
  std::string data_path;       // token file (runtime/data/token_data.h); empty = synthetic tokens
  uint64_t seed = 0;           // init, synthetic data and batch sampling
  bool verbose = true;         // one line per step on stderr
  std::string device = "auto"; // "auto" (CUDA if available), "cpu" or "cuda"
  double learning_rate = 1e-4; // AdamW lr (peak of the schedule)
  int comm_timeout_seconds = 300;  // a collective or the rendezvous taking longer: exit 4
  bool collect_parameters = false; // fill RunResult::final_parameters (tests)
  TrainerOptions trainer;      // schedule, clipping, eval, log, checkpoints (trainer_options.h)
};

struct RunResult {
  MemoryBreakdown measured;             // the step with the highest peak (reserved = max over steps)
  std::vector<MemoryBreakdown> per_step;
  double step_seconds = 0.0;            // mean over steps after the first (all steps when only one)
  double tokens_per_second = 0.0;
  std::vector<double> losses;           // per optimizer step (mean over its micro-steps), unscaled
  std::vector<bool> skipped_steps;      // fp16: true where the loss scaler skipped the update
  bool oom = false;
  // Meaningful when oom or !error.empty(); measured.phases then ends with an entry for this phase
  // holding only its peak (allocated_bytes 0: the boundary was never reached).
  Phase failed_phase = Phase::after_init;
  std::string error;                    // what() of the failure, empty on success
  std::string device_name;              // e.g. "NVIDIA H100 80GB HBM3" or "cpu"
  std::string libtorch_version;         // TORCH_VERSION of the libtorch the runtime was built with
  uint64_t parameters = 0;              // parameter count of the built model
  int rank = 0, world_size = 1;         // this process's place (launch_env.h)
  std::string backend = "none";         // c10d backend: "nccl", "gloo" or "none" (one rank)
  // MoE models: how the experts ran, as ExpertsImpl spells it ("grouped_mm": at::_grouped_mm on a
  // CUDA device with libtorch >= 2.9; "loop": one mm per expert); empty for dense models.
  std::string experts_implementation;
  std::string norm_implementation;      // RMSNorm models: "fused" (at::_fused_rms_norm) or "composite"
  // 16-bit recipes with fp32 masters: "fused-master" (zplan's kernel) or "upcast" (AdamWImpl); else empty.
  std::string adamw_implementation;
  std::string elementwise_implementation;  // "fused" (zplan's SwiGLU and RoPE kernels) or "composite"
  std::string cross_entropy_implementation;  // the plain loss path: "fused" (zplan's kernels) or "composite"
  // Several ranks: every rank's peak allocated and reserved bytes (measured.peak_allocated_bytes and
  // measured.reserved_bytes are then the busiest rank's; the other fields are this rank's).
  std::vector<uint64_t> per_rank_peak_bytes, per_rank_reserved_bytes;
  std::vector<float> final_parameters;  // collect_parameters: all params after training, model order
  TrainerOutcome trainer;               // steps reached, Ctrl-C, checkpoint, lrs, eval losses
};

// Throws InputError for strategies the runtime cannot execute on one device or models it cannot
// build. Runtime failures (OOM at a phase, CUDA errors) are returned in RunResult, never thrown.
RunResult run_training(const ModelSpec& model, const TrainingSpec& training,
                       const Strategy& strategy, const RunOptions& options);

// True when this build of the runtime can use a CUDA device right now.
bool runtime_has_cuda();

// `training` with each kernel choice this runtime can honour here: without a CUDA device, or in a
// build without zplan's kernels (no CUDA compiler) or without at::_fused_rms_norm, the PyTorch
// path that will run instead. `zplan --run` plans with it, so that its prediction is for what runs.
TrainingSpec with_runnable_kernels(TrainingSpec training);

}  // namespace zplan

// trainer.cpp: run_training (run_api.h). Builds the model and optimizer on one device, runs the
// steps, and reads the CUDA caching allocator at each phase boundary of memory_breakdown.h:
//   after_init      model states allocated (params + fp32 masters + Adam m, v; no grads yet)
//   forward_end     loss computed; saved activations, logits and log-probs alive
//   backward_peak   backward done (grads allocated); the phase peak is the backward's highest point
//   optimizer_step  AdamW applied (phase peak includes its temporaries)
//   step_end        grads dropped (set_to_none)
// The peak statistic is reset at every boundary, so each PhaseMemory holds its own phase's peak.
// On CPU the allocator is not readable: phases hold zeros and only model-state bytes are exact.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "planner/input_error.h"
#include "runtime/model/transformer.h"
#include "runtime/run_api.h"
#include "runtime/train/optimizer.h"
#include "runtime/train/training_session.h"

#if ZPLAN_RUNTIME_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace zplan {
namespace {

struct AllocStats {
  uint64_t allocated = 0, peak_allocated = 0, reserved = 0, peak_reserved = 0;
};

// Reads the caching allocator of device 0 (the only device the runtime uses).
class MemoryProbe {
 public:
  explicit MemoryProbe(bool cuda) : cuda_(cuda) {}
  bool cuda() const { return cuda_; }
  AllocStats read_and_reset() {
    AllocStats s;
#if ZPLAN_RUNTIME_CUDA
    if (cuda_) {
      cudaDeviceSynchronize();
      const auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
      const auto agg = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
      s.allocated = static_cast<uint64_t>(st.allocated_bytes[agg].current);
      s.peak_allocated = static_cast<uint64_t>(st.allocated_bytes[agg].peak);
      s.reserved = static_cast<uint64_t>(st.reserved_bytes[agg].current);
      s.peak_reserved = static_cast<uint64_t>(st.reserved_bytes[agg].peak);
      c10::cuda::CUDACachingAllocator::resetPeakStats(0);
    }
#endif
    return s;
  }
  void empty_cache() {
#if ZPLAN_RUNTIME_CUDA
    if (cuda_) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
  }
  // Device memory in use outside the caching allocator (CUDA context, cuBLAS workspaces) and the capacity.
  void context_and_capacity(uint64_t reserved, uint64_t* context, uint64_t* capacity) {
    *context = 0;
    *capacity = 0;
#if ZPLAN_RUNTIME_CUDA
    if (cuda_) {
      size_t free_b = 0, total_b = 0;
      if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) {
        *capacity = total_b;
        const uint64_t used = total_b - free_b;
        *context = used > reserved ? used - reserved : 0;
      }
    }
#else
    (void)reserved;
#endif
  }
  std::string device_name() const {
#if ZPLAN_RUNTIME_CUDA
    cudaDeviceProp prop{};
    if (cuda_ && cudaGetDeviceProperties(&prop, 0) == cudaSuccess) return prop.name;
#endif
    return "cpu";
  }

 private:
  bool cuda_;
};

bool message_says_oom(const std::string& what) {
  return what.find("out of memory") != std::string::npos ||
         what.find("CUBLAS_STATUS_ALLOC_FAILED") != std::string::npos;
}

void validate(const ModelSpec& model, const TrainingSpec& training, const Strategy& s,
              bool cuda) {
  if (s.sp_degree != 1)
    throw InputError("--sp", "", "sequence parallelism needs sp_degree ranks; the runtime runs on one device (use --sp 1)");
  if (s.offload_optimizer)
    throw InputError("--offload-optimizer", "", "optimizer offload is not implemented by the single-device runtime");
  if (s.offload_params)
    throw InputError("--offload-params", "", "parameter offload is not implemented by the single-device runtime");
  if (s.zero_stage < 0 || s.zero_stage > 3)
    throw InputError("--zero", "", "must be 0..3 (with one rank every stage is plain data parallelism)");
  if (s.precision == Precision::amp_bf16 || s.precision == Precision::amp_fp16)
    throw InputError("--precision", "", "amp-bf16/amp-fp16 are not implemented by the runtime; use bf16, fp16 or fp32");
  if (s.precision == Precision::fp16 && !cuda)
    throw InputError("--precision", "", "fp16 needs a CUDA device (CPU kernels lack fp16 matmuls)");
  if (s.checkpointed_layers < 0 || s.checkpointed_layers > model.layers)
    throw InputError("--ckpt", "", "must be 0.." + std::to_string(model.layers) + " checkpointed layers");
  if (s.micro_batch < 1) throw InputError("--micro-batch", "", "must be >= 1");
  if (s.grad_accumulation < 1) throw InputError("--grad-accum", "", "must be >= 1");
  if (training.seq_len < 1) throw InputError("--seq", "", "must be >= 1");
  if (model.position == PositionKind::learned && training.seq_len > model.max_positions)
    throw InputError("--seq", "", "exceeds the model's " + std::to_string(model.max_positions) +
                                      " learned positions");
  rt::check_runtime_supports(model);
}

at::ScalarType dtype_of(Precision p) {
  switch (p) {
    case Precision::bf16: return at::kBFloat16;
    case Precision::fp16: return at::kHalf;
    default: return at::kFloat;
  }
}

uint64_t grad_bytes(const std::vector<rt::NamedParam>& params) {
  uint64_t n = 0;
  for (const auto& p : params)
    if (p.tensor.grad().defined()) n += p.tensor.grad().numel() * p.tensor.grad().element_size();
  return n;
}

void record(MemoryBreakdown* bd, Phase p, const AllocStats& s) {
  bd->phases.push_back(PhaseMemory{p, s.allocated, s.peak_allocated});
  bd->reserved_bytes = std::max(bd->reserved_bytes, s.peak_reserved);
}

uint64_t sub0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

}  // namespace

bool runtime_has_cuda() { return ZPLAN_RUNTIME_CUDA && at::hasCUDA(); }

RunResult run_training(const ModelSpec& model_spec, const TrainingSpec& training,
                       const Strategy& strategy, const RunOptions& options) {
  bool cuda = runtime_has_cuda();
  if (options.device == "cpu") cuda = false;
  else if (options.device == "cuda" && !cuda)
    throw InputError("--device", "", "cuda requested but this runtime has no CUDA device");
  else if (options.device != "auto" && options.device != "cuda")
    throw InputError("--device", "", "expected auto, cpu or cuda");
  validate(model_spec, training, strategy, cuda);
  rt::TrainingSession session(model_spec, training, strategy, options);  // data, schedule, log, resume

  const int64_t b = strategy.micro_batch, t = training.seq_len, accum = strategy.grad_accumulation;
  const at::Device device = cuda ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  rt::BuildOptions build;
  build.dtype = dtype_of(strategy.precision);
  build.device = device;
  build.use_sdpa = training.attention != Attention::eager && compat::have_sdpa();
  build.checkpointed_layers = strategy.checkpointed_layers;
  build.cpu_checkpointing = strategy.cpu_checkpointing;

  MemoryProbe probe(cuda);
  RunResult r;
  r.device_name = probe.device_name();
  at::manual_seed(options.seed);
  probe.empty_cache();
  probe.read_and_reset();

  std::unique_ptr<rt::TransformerModel> model;
  std::unique_ptr<rt::MixedAdamW> opt;
  MemoryBreakdown states;  // model-state bytes, copied into every step's breakdown
  PhaseMemory init_phase{Phase::after_init, 0, 0};
  uint64_t init_reserved = 0;
  Phase phase = Phase::after_init;
  std::vector<double> seconds;
  try {
    model = std::make_unique<rt::TransformerModel>(model_spec, build);
    std::vector<at::Tensor> leaves;
    for (const auto& p : model->params()) leaves.push_back(p.tensor);
    rt::AdamWConfig acfg;
    acfg.lr = options.learning_rate;
    opt = std::make_unique<rt::MixedAdamW>(leaves, has_fp32_master(strategy.precision),
                                           strategy.precision == Precision::fp16, acfg);
    r.parameters = model->param_count();
    for (const auto& p : model->params()) states.weights_bytes += p.tensor.nbytes();
    states.master_weights_bytes = opt->master_bytes();
    states.optimizer_states_bytes = opt->state_bytes();
    if (strategy.cpu_checkpointing)
      states.host.checkpoints_bytes = static_cast<uint64_t>(strategy.checkpointed_layers) * b * t *
                                      model_spec.hidden * at::elementSize(build.dtype);
    const AllocStats init = probe.read_and_reset();
    init_phase = PhaseMemory{Phase::after_init, init.allocated, init.peak_allocated};
    init_reserved = init.peak_reserved;
    probe.context_and_capacity(init.reserved, &states.cuda_context_bytes, &states.capacity_bytes);

    const int first_step = session.start(*model, *opt);
    for (int step = first_step; step < options.steps; ++step) {
      MemoryBreakdown bd = states;
      bd.phases.push_back(init_phase);
      const auto t0 = std::chrono::steady_clock::now();
      AllocStats fwd, bwd, step_start = probe.read_and_reset();
      uint64_t fwd_peak = 0, bwd_peak = 0, bwd_reserved = 0;
      double loss_sum = 0.0;
      for (int64_t micro = 0; micro < accum; ++micro) {
        phase = Phase::forward_end;
        at::Tensor ids, targets;
        if (session.has_data()) {
          session.next_batch(b, device, &ids, &targets);
        } else {
          const at::Tensor window = at::randint(0, model_spec.vocab, {b, t + 1}, at::kLong);
          ids = window.slice(1, 0, t).contiguous().to(device);
          targets = window.slice(1, 1, t + 1).contiguous().to(device);
        }
        at::Tensor logits = model->forward(ids);
        at::Tensor loss = rt::causal_lm_loss(logits, targets);
        // logits (compute dtype) + the fp32 log-probs cross_entropy saves for backward.
        bd.logits_bytes = cuda ? logits.nbytes() + static_cast<uint64_t>(logits.numel()) * 4 : 0;
        fwd = probe.read_and_reset();
        fwd_peak = std::max(fwd_peak, fwd.peak_allocated);
        logits = at::Tensor();  // the HF Trainer drops the model output before backward
        phase = Phase::backward_peak;
        at::Tensor scaled = loss * (opt->loss_scale() / static_cast<double>(accum));
        scaled.backward();
        loss_sum += loss.item<double>();
        loss = scaled = at::Tensor();
        bwd = probe.read_and_reset();
        bwd_peak = std::max(bwd_peak, bwd.peak_allocated);
        bwd_reserved = std::max(bwd_reserved, std::max(fwd.peak_reserved, bwd.peak_reserved));
      }
      record(&bd, Phase::forward_end, AllocStats{fwd.allocated, fwd_peak, 0, bwd_reserved});
      record(&bd, Phase::backward_peak, AllocStats{bwd.allocated, bwd_peak, 0, bwd_reserved});
      bd.grads_bytes = grad_bytes(model->params());
      phase = Phase::optimizer_step;
      session.before_optimizer_step(step, *model, *opt);
      const bool applied = opt->step();
      const AllocStats os = probe.read_and_reset();
      record(&bd, Phase::optimizer_step, os);
      phase = Phase::step_end;
      opt->zero_grad();
      record(&bd, Phase::step_end, probe.read_and_reset());
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

      if (cuda) {
        bd.activations_bytes = sub0(sub0(fwd.allocated, step_start.allocated), bd.logits_bytes);
        bd.working_bytes = sub0(bwd_peak, fwd.allocated);
        bd.optimizer_temp_bytes = sub0(os.peak_allocated, bwd.allocated);
      }
      for (const PhaseMemory& pm : bd.phases) {
        if (pm.phase == Phase::after_init) continue;
        if (pm.peak_allocated_bytes >= bd.peak_allocated_bytes) {
          bd.peak_allocated_bytes = pm.peak_allocated_bytes;
          bd.peak_phase = pm.phase;
        }
      }
      bd.fragmentation_bytes = sub0(bd.reserved_bytes, bd.peak_allocated_bytes);
      r.per_step.push_back(bd);
      r.losses.push_back(loss_sum / static_cast<double>(accum));
      r.skipped_steps.push_back(!applied);
      if (session.after_step(step, r.losses.back(), applied, seconds.back(), bd.peak_allocated_bytes,
                             *model, *opt))
        break;  // Ctrl-C: the checkpoint is written
    }
    session.finish(*model, *opt);
  } catch (const InputError&) {
    throw;
  } catch (const c10::OutOfMemoryError& e) {
    r.oom = true;
    r.failed_phase = phase;
    r.error = e.what_without_backtrace();
  } catch (const c10::Error& e) {
    r.oom = message_says_oom(e.what());
    r.failed_phase = phase;
    r.error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    r.oom = message_says_oom(e.what());
    r.failed_phase = phase;
    r.error = e.what();
  }

  // measured: the busiest step; reserved is the highest over all steps and init.
  if (!r.per_step.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < r.per_step.size(); ++i)
      if (r.per_step[i].peak_allocated_bytes > r.per_step[best].peak_allocated_bytes) best = i;
    r.measured = r.per_step[best];
    for (const auto& s : r.per_step) r.measured.reserved_bytes = std::max(r.measured.reserved_bytes, s.reserved_bytes);
  } else {
    r.measured = states;
    r.measured.phases.push_back(init_phase);
  }
  r.measured.reserved_bytes = std::max(r.measured.reserved_bytes, init_reserved);
  if (init_phase.peak_allocated_bytes > r.measured.peak_allocated_bytes) {
    r.measured.peak_allocated_bytes = init_phase.peak_allocated_bytes;
    r.measured.peak_phase = Phase::after_init;
  }
  if (r.oom || !r.error.empty()) {
    // Whatever the allocator reached inside the failing phase: an entry with only its peak.
    const AllocStats at_fail = probe.read_and_reset();
    if (cuda) r.measured.phases.push_back(PhaseMemory{r.failed_phase, 0, at_fail.peak_allocated});
    if (at_fail.peak_allocated > r.measured.peak_allocated_bytes) {
      r.measured.peak_allocated_bytes = at_fail.peak_allocated;
      r.measured.peak_phase = r.failed_phase;
    }
    r.measured.reserved_bytes = std::max(r.measured.reserved_bytes, at_fail.peak_reserved);
    if (options.verbose)
      std::fprintf(stderr, "[zplan-run] %s in phase %s: %s\n", r.oom ? "OOM" : "error",
                   to_string(r.failed_phase), r.error.c_str());
  }
  const size_t skip = seconds.size() > 1 ? 1 : 0;
  double total = 0.0;
  for (size_t i = skip; i < seconds.size(); ++i) total += seconds[i];
  if (seconds.size() > skip) {
    r.step_seconds = total / static_cast<double>(seconds.size() - skip);
    r.tokens_per_second = static_cast<double>(b * t * accum) / r.step_seconds;
  }
  r.trainer = session.outcome();
  opt.reset();
  model.reset();
  probe.empty_cache();
  return r;
}

}  // namespace zplan

// trainer.cpp: run_training (run_api.h). Builds the model and optimizer on this rank's device, runs
// the steps, and reads the CUDA caching allocator at each phase boundary of memory_breakdown.h:
//   after_init      model states allocated (params + fp32 masters + Adam m, v; no grads yet)
//   forward_end     loss computed; saved activations, logits and log-probs alive
//   backward_peak   backward done (grads allocated); the phase peak is the backward's highest point
//   optimizer_step  AdamW applied (phase peak includes its temporaries)
//   step_end        grads dropped (set_to_none)
// The peak statistic is reset at every boundary, so each PhaseMemory holds its own phase's peak.
// On CPU the allocator is not readable: phases hold zeros and only model-state bytes are exact.
//
// Several ranks (data parallelism): every rank draws the same global batch of W * micro_batch
// sequences and trains on its own rows, so W ranks see exactly the batch one rank with
// micro_batch * W would; the loss is scaled by 1/W before backward (exact for W a power of two)
// and gradients are summed over ranks by ZeroStates, which gives the one-rank mean gradient.
// Ulysses (sp_degree P dividing W): the P ranks of a group share the same sequences and each
// holds T/P of their tokens; the same 1/W scaling and sum over all W ranks give the mean over all
// tokens, and ZeRO shards the model states over all W ranks (as DeepSpeed does).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include <torch/version.h>

#include "planner/config/runtime_support.h"
#include "planner/config/validate.h"
#include "planner/input_error.h"
#include "runtime/data/token_data.h"
#include "runtime/dist/communicator.h"
#include "runtime/dist/fault_injection.h"
#include "runtime/model/autocast.h"
#include "runtime/model/chunked_loss.h"
#include "runtime/model/transformer.h"
#include "runtime/run_api.h"
#include "runtime/train/allocator_trace.h"
#include "runtime/train/build_choice.h"
#include "runtime/train/memory_probe.h"
#include "runtime/train/optimizer.h"
#include "runtime/train/zero_sharding.h"
#include "runtime/train/training_session.h"

#if ZPLAN_RUNTIME_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace zplan {
namespace {

using rt::AllocStats;

bool message_says_oom(const std::string& what) {
  return what.find("out of memory") != std::string::npos ||
         what.find("CUBLAS_STATUS_ALLOC_FAILED") != std::string::npos;
}

// What the runtime executes is stated once (planner/config/runtime_support.h), and the planner's
// --run search reads the same statement.
void validate(const ModelSpec& model, const TrainingSpec& training, const Strategy& s,
              bool cuda, int world) {
  throw_if(check_runtime_support(model, training, s, cuda, world));
  rt::check_runtime_supports(model);
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

// This rank's part of the global batch ((W/P) * b sequences of t tokens, the same on every rank):
// rows of data-parallel group rank/P, tokens [(rank%P)*t/P, ...) of them (Ulysses degree P).
// Every rank draws the same global batch (the same seed and sampler order) and keeps its rows
// (data parallel) and its slice of tokens (Ulysses).
void next_batch(rt::TrainingSession& session, int64_t vocab, int64_t b, int64_t t, int rank, int world,
                int sp, at::Device device, at::Tensor* ids, at::Tensor* targets) {
  const int64_t rows = b * (world / sp), tl = t / sp, row0 = (rank / sp) * b, tok0 = (rank % sp) * tl;
  at::Tensor all_ids, all_targets;
  if (session.has_data()) {
    session.next_batch(rows, at::Device(at::kCPU), &all_ids, &all_targets);
  } else {
    const at::Tensor window = at::randint(0, vocab, {rows, t + 1}, at::kLong);
    all_ids = window.slice(1, 0, t);
    all_targets = window.slice(1, 1, t + 1);
  }
  *ids = all_ids.narrow(0, row0, b).narrow(1, tok0, tl).contiguous().to(device);
  *targets = all_targets.narrow(0, row0, b).narrow(1, tok0, tl).contiguous().to(device);
}

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
  const rt::LaunchEnv env = rt::launch_env_from_environment();
  validate(model_spec, training, strategy, cuda, env.world_size);
  // The trainer's per-rank features (clipping needs the global norm of sharded gradients; evaluation,
  // checkpoints and resume would read and write one rank's shard) run on one rank in this version.
  const TrainerOptions& tro = options.trainer;
  if (env.world_size > 1 && (tro.clip_grad > 0 || !tro.eval_path.empty() || !tro.checkpoint_path.empty() ||
                             !tro.resume_path.empty() || tro.checkpoint_every > 0 || !tro.log_jsonl.empty() ||
                             !tro.save_hf.empty()))
    throw InputError("--run", "", "--clip-grad, --eval-data, --checkpoint, --checkpoint-every, --resume, --save-hf and --log-jsonl "
                                  "run on one GPU in this version; drop them for a run on " +
                                  std::to_string(env.world_size) + " ranks");
  rt::TrainingSession session(model_spec, training, strategy, options);  // data, schedule, log, resume

  const int64_t b = strategy.micro_batch, t = training.seq_len, accum = strategy.grad_accumulation;
  const int sp = strategy.sp_degree;
  if (cuda) rt::use_cuda_device(env.local_rank);
  const at::Device device = cuda ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank))
                                 : at::Device(at::kCPU);
  rt::BuildOptions build = rt::build_options_for(model_spec, training, strategy, device);
  rt::MemoryProbe probe(cuda, env.local_rank);
  rt::AllocatorTrace alloc_trace(cuda, env.local_rank);  // ZPLAN_ALLOCATOR_TRACE=FILE only
  RunResult r;
  r.device_name = probe.device_name();
  r.libtorch_version = TORCH_VERSION;
  r.rank = env.rank;
  r.world_size = env.world_size;
  rt::name_implementations(model_spec, build, &r);
  const bool verbose = options.verbose && env.rank == 0;
  probe.empty_cache();
  probe.read_and_reset();
  // Rendezvous first (a missing rank ends every process here, bounded by the timeout).
  std::unique_ptr<rt::Communicator> comm = rt::Communicator::connect(env, device, options.comm_timeout_seconds);
  r.backend = comm->backend();
  const int world = comm->world_size(), rank = comm->rank();
  // Ulysses groups: blocks of sp consecutive ranks (their own process group unless sp == world).
  std::unique_ptr<rt::Communicator> sp_comm = sp > 1 ? comm->split_blocks(sp) : nullptr;
  if (sp > 1) {
    build.sp.degree = sp;
    build.sp.rank = rank % sp;
    build.sp.all_to_all = [c = sp_comm ? sp_comm.get() : comm.get()](const at::Tensor& in, at::Tensor& out) {
      c->all_to_all(in, out);
    };
  }
  rt::inject_fault_if_asked(rank, "init");
  at::manual_seed(options.seed);

  std::unique_ptr<rt::TransformerModel> model;
  std::unique_ptr<rt::ZeroStates> zero;
  std::unique_ptr<rt::MixedAdamW> opt;
  MemoryBreakdown states;  // model-state bytes, copied into every step's breakdown
  PhaseMemory init_phase{Phase::after_init, 0, 0};
  uint64_t init_reserved = 0;
  Phase phase = Phase::after_init;
  auto enter = [&](Phase p) {
    phase = p;
    comm->set_phase(to_string(p));
    if (sp_comm) sp_comm->set_phase(to_string(p));
    rt::inject_fault_if_asked(rank, to_string(p));
    alloc_trace.mark(to_string(p));
  };
  std::vector<double> seconds;
  try {
    enter(Phase::after_init);
    model = std::make_unique<rt::TransformerModel>(model_spec, build);
    session.load_initial_weights(*model);  // --init-from, before ZeRO shards the weights and masters copy them
    std::vector<at::Tensor> leaves;
    for (const auto& p : model->params()) leaves.push_back(p.tensor);
    if (world > 1) {
      zero = std::make_unique<rt::ZeroStates>(leaves, model->param_groups(), *comm, strategy.zero_stage,
                                              training.reduce_bucket_elems,
                                              training.param_persistence_threshold);
      model->set_hooks(zero.get(), /*release_params=*/strategy.zero_stage >= 3);
    }
    rt::AdamWConfig acfg;
    acfg.lr = options.learning_rate;
    opt = std::make_unique<rt::MixedAdamW>(zero ? zero->optimizer_tensors() : leaves,
                                           has_fp32_master(strategy.precision),
                                           is_fp16(strategy.precision), acfg,  // fp16, amp-fp16: loss scaling
                                           training.adamw == AdamWImpl::fused_master);
    if (has_fp32_master(strategy.precision))
      r.adamw_implementation = to_string(opt->fused_master() ? AdamWImpl::fused_master : AdamWImpl::upcast);
    if (zero && strategy.zero_stage >= 1) opt->set_overflow_agreement([&](bool mine) { return comm->any(mine); });
    r.parameters = model->param_count();
    if (zero) states.weights_bytes = zero->resident_param_bytes();
    else for (const auto& p : model->params()) states.weights_bytes += p.tensor.nbytes();
    states.master_weights_bytes = opt->master_bytes();
    states.optimizer_states_bytes = opt->state_bytes();
    if (strategy.cpu_checkpointing)
      states.host.checkpoints_bytes = static_cast<uint64_t>(strategy.checkpointed_layers) * b * (t / sp) *
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
        enter(Phase::forward_end);
        at::Tensor ids, targets;
        next_batch(session, model_spec.vocab, b, t, rank, world, sp, device, &ids, &targets);
        at::Tensor logits;  // plain loss path: held until forward_end is read
        uint64_t loss_path_bytes = 0;
        at::Tensor loss;
        {  // amp: forward and loss under autocast (the HF Trainer's autocast_smart_context_manager)
          rt::AutocastGuard autocast(device.type(), rt::autocast_dtype_of(strategy.precision));
          loss = rt::lm_loss(*model, ids, targets, strategy.loss_chunks, &logits, &loss_path_bytes);
        }
        bd.logits_bytes = cuda ? loss_path_bytes : 0;
        fwd = probe.read_and_reset();
        fwd_peak = std::max(fwd_peak, fwd.peak_allocated);
        logits = at::Tensor();  // the HF Trainer drops the model output before backward
        enter(Phase::backward_peak);
        at::Tensor scaled = loss * (opt->loss_scale() / static_cast<double>(accum * world));
        scaled.backward();
        if (zero) zero->finish_backward(micro + 1 == accum);
        loss_sum += loss.item<double>();
        loss = scaled = at::Tensor();
        bwd = probe.read_and_reset();
        bwd_peak = std::max(bwd_peak, bwd.peak_allocated);
        bwd_reserved = std::max(bwd_reserved, std::max(fwd.peak_reserved, bwd.peak_reserved));
      }
      record(&bd, Phase::forward_end, AllocStats{fwd.allocated, fwd_peak, 0, bwd_reserved});
      record(&bd, Phase::backward_peak, AllocStats{bwd.allocated, bwd_peak, 0, bwd_reserved});
      bd.grads_bytes = zero ? zero->grad_bytes() : grad_bytes(model->params());
      enter(Phase::optimizer_step);
      session.before_optimizer_step(step, *model, *opt);
      const bool applied = opt->step();
      if (zero && applied) zero->after_step();
      const AllocStats os = probe.read_and_reset();
      record(&bd, Phase::optimizer_step, os);
      enter(Phase::step_end);
      opt->zero_grad();
      record(&bd, Phase::step_end, probe.read_and_reset());
      if (world > 1) {  // the mean loss over ranks (= the one-rank loss of the global batch)
        at::Tensor l = at::full({1}, loss_sum, at::TensorOptions().dtype(at::kDouble).device(device));
        comm->all_reduce_sum(l);
        loss_sum = l.item<double>() / world;
      }
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
      if (world > 1) {
        if (verbose)
          std::fprintf(stderr, "[zplan-run] step %d loss %.4f%s peak %.3f GiB reserved %.3f GiB %.3f s\n",
                       step + 1, r.losses.back(), applied ? "" : " (skipped: fp16 overflow)",
                       bd.peak_allocated_bytes / 1073741824.0, bd.reserved_bytes / 1073741824.0,
                       seconds.back());
      } else if (session.after_step(step, r.losses.back(), applied, seconds.back(), bd.peak_allocated_bytes,
                                    *model, *opt)) {
        break;  // Ctrl-C: the checkpoint is written
      }
    }
    if (world == 1) session.finish(*model, *opt);
    if (options.collect_parameters) {
      if (zero) zero->gather_all_params();
      for (const auto& p : model->params()) {
        const at::Tensor f = p.tensor.detach().to(at::kCPU, at::kFloat).contiguous().view({-1});
        r.final_parameters.insert(r.final_parameters.end(), f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
      }
    }
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
  const bool failed = r.oom || !r.error.empty();
  if (failed) {
    // Whatever the allocator reached inside the failing phase: an entry with only its peak.
    const AllocStats at_fail = probe.read_and_reset();
    if (cuda) r.measured.phases.push_back(PhaseMemory{r.failed_phase, 0, at_fail.peak_allocated});
    if (at_fail.peak_allocated > r.measured.peak_allocated_bytes) {
      r.measured.peak_allocated_bytes = at_fail.peak_allocated;
      r.measured.peak_phase = r.failed_phase;
    }
    r.measured.reserved_bytes = std::max(r.measured.reserved_bytes, at_fail.peak_reserved);
    if (options.verbose)
      std::fprintf(stderr, "[zplan-run] rank %d/%d: %s in phase %s: %s\n", rank, world, r.oom ? "OOM" : "error",
                   to_string(r.failed_phase), r.error.c_str());
  } else if (world > 1) {
    // Every rank's peaks; the busiest rank's stand for the run (the planner predicts the busiest).
    at::Tensor mine = at::tensor(std::vector<int64_t>{static_cast<int64_t>(r.measured.peak_allocated_bytes),
                                                      static_cast<int64_t>(r.measured.reserved_bytes)},
                                 at::kLong).to(device);
    at::Tensor all = at::empty({2 * world}, mine.options());
    comm->all_gather(mine, all);
    const at::Tensor host = all.cpu();
    for (int i = 0; i < world; ++i) {
      r.per_rank_peak_bytes.push_back(static_cast<uint64_t>(host[2 * i].item<int64_t>()));
      r.per_rank_reserved_bytes.push_back(static_cast<uint64_t>(host[2 * i + 1].item<int64_t>()));
    }
    r.measured.peak_allocated_bytes = *std::max_element(r.per_rank_peak_bytes.begin(), r.per_rank_peak_bytes.end());
    r.measured.reserved_bytes = *std::max_element(r.per_rank_reserved_bytes.begin(), r.per_rank_reserved_bytes.end());
    comm->barrier();  // nobody tears the store down while another rank still reads it
  }
  const size_t skip = seconds.size() > 1 ? 1 : 0;
  double total = 0.0;
  for (size_t i = skip; i < seconds.size(); ++i) total += seconds[i];
  if (seconds.size() > skip) {
    r.step_seconds = total / static_cast<double>(seconds.size() - skip);
    r.tokens_per_second = static_cast<double>(b * (t / sp) * accum) / r.step_seconds;  // this rank's
  }
  r.trainer = session.outcome();
  model.reset();  // (its hooks point at zero)
  opt.reset();
  zero.reset();
  // A failed rank leaves its peers blocked in a collective: do not wait for them in a destructor.
  if (failed && world > 1) {
    comm->abandon();
    if (sp_comm) sp_comm->abandon();
  }
  alloc_trace.write();
  probe.empty_cache();
  return r;
}

}  // namespace zplan

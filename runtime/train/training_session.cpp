// training_session.cpp: data, schedule, clipping, evaluation, logging, checkpoints and Ctrl-C for
// run_training (see training_session.h).
#include "runtime/train/training_session.h"

#include <cstdio>

#include "planner/input_error.h"
#include "runtime/io/hf_checkpoint_writer.h"
#include "runtime/model/chunked_loss.h"
#include "runtime/train/grad_clip.h"

namespace zplan::rt {
namespace {

std::unique_ptr<TokenFile> open_token_file(const std::string& path, const TrainerOptions& t,
                                           const ModelSpec& model, int64_t seq_tokens) {
  auto file = std::make_unique<TokenFile>(path, resolve_token_format(path, t.data_dtype, t.eos_id));
  if (file->format().vocab > model.vocab)
    throw InputError(path + ".json", "vocab", "the tokenizer's vocabulary " + std::to_string(file->format().vocab) +
                                                  " exceeds the model's vocab " + std::to_string(model.vocab));
  if (file->format().eos_id >= model.vocab)
    throw InputError(path, "eos", "id " + std::to_string(file->format().eos_id) + " is not below the model's vocab " +
                                      std::to_string(model.vocab));
  file->check_ids_below(model.vocab, "the model's vocab");
  file->windows(seq_tokens);  // throws when shorter than one sequence
  return file;
}

at::Tensor to_batch(const std::vector<int64_t>& v, int64_t b, int64_t t, at::Device device) {
  return at::tensor(v, at::kLong).view({b, t}).to(device);
}

}  // namespace

TrainingSession::TrainingSession(const ModelSpec& model, const TrainingSpec& training,
                                 const Strategy& strategy, const RunOptions& options)
    : model_(model),
      micro_batch_(strategy.micro_batch),
      seq_tokens_(training.seq_len),
      tokens_per_step_(strategy.micro_batch * training.seq_len * strategy.grad_accumulation),
      loss_chunks_(strategy.loss_chunks),
      options_(options) {
  const TrainerOptions& t = options.trainer;
  schedule_ = LrSchedule{options.learning_rate, t.warmup_steps, t.min_lr, options.steps};
  check_schedule(schedule_);
  if (t.clip_grad < 0.0) throw InputError("--clip-grad", "", "must be > 0 (or 0 for no clipping)");
  if (t.eval_every < 0) throw InputError("--eval-every", "", "must be >= 1");
  if (t.eval_every > 0 && t.eval_path.empty()) throw InputError("--eval-every", "", "needs --eval-data FILE");
  if (t.eval_batches < 1) throw InputError("--eval-batches", "", "must be >= 1");
  if (t.checkpoint_every < 0) throw InputError("--checkpoint-every", "", "must be >= 1");
  if (t.checkpoint_every > 0 && t.checkpoint_path.empty())
    throw InputError("--checkpoint-every", "", "needs --checkpoint FILE");
  if (!options.data_path.empty()) {
    data_ = open_token_file(options.data_path, t, model, seq_tokens_);
    sampler_ = std::make_unique<SequenceSampler>(*data_, seq_tokens_, options.seed);
    if (options.verbose) {
      // Without an eos id the file marks no document ends: report the sidecar's count, if any, as its.
      const TokenFormat& f = data_->format();
      const std::string documents =
          f.eos_id >= 0 ? std::to_string(data_->documents()) + " documents"
          : f.declared_documents >= 0 ? std::to_string(f.declared_documents) + " documents (per the sidecar; no eos id marks their ends)"
                                      : "documents not marked (no eos id declared)";
      std::fprintf(stderr, "[zplan-run] data %s: %lld uint%d tokens, %s, %lld sequences of %lld per epoch\n",
                   data_->path().c_str(), static_cast<long long>(data_->size()), 8 * f.bytes_per_token,
                   documents.c_str(), static_cast<long long>(sampler_->windows_per_epoch()),
                   static_cast<long long>(seq_tokens_));
    }
  } else if (!t.data_dtype.empty() || t.eos_id >= 0) {
    throw InputError(t.data_dtype.empty() ? "--eos" : "--data-dtype", "", "describes --data, which was not given");
  }
  if (!t.eval_path.empty()) eval_data_ = open_token_file(t.eval_path, t, model, seq_tokens_);
  if (!t.resume_path.empty()) {
    const CheckpointState head = read_checkpoint_header(t.resume_path);  // fail before building the model
    if (head.model != model.name)
      throw InputError(t.resume_path, "model", "was written for " + head.model + ", this run trains " + model.name);
    if (head.seed != options.seed)
      throw InputError(t.resume_path, "seed", "was written with seed " + std::to_string(head.seed) +
                                                   ", this run has " + std::to_string(options.seed));
    if (head.step >= options.steps)
      throw InputError("--steps", "", std::to_string(options.steps) + " is not beyond the checkpoint's step " +
                                          std::to_string(head.step) + " (--steps counts from the start of training)");
  }
  if (!t.init_from.empty()) {
    if (!t.resume_path.empty())
      throw InputError("--init-from", "", "and --resume both give the weights; a resumed run continues from its checkpoint");
    init_from_ = std::make_unique<HfCheckpointReader>(t.init_from, model);  // fail before building the model
  }
  log_.emplace(t.log_jsonl, options.verbose);
}

void TrainingSession::load_initial_weights(TransformerModel& model) {
  if (!init_from_) return;
  init_from_->copy_into(model.params());
  if (options_.verbose)
    std::fprintf(stderr, "[zplan-run] weights from %s (%lld tensors)\n", options_.trainer.init_from.c_str(),
                 static_cast<long long>(init_from_->tensors_read()));
  init_from_.reset();  // unmaps the files
}

NamedTensors TrainingSession::state_tensors(TransformerModel& model, MixedAdamW& optimizer) const {
  NamedTensors all;
  for (const NamedParam& p : model.params()) all.emplace_back("model." + p.name, p.tensor);
  for (auto& named : optimizer.state_tensors()) all.emplace_back("optimizer." + named.first, named.second);
  return all;
}

int TrainingSession::start(TransformerModel& model, MixedAdamW& optimizer) {
  const std::string& resume = options_.trainer.resume_path;
  if (!resume.empty()) {
    const CheckpointState s = load_checkpoint(resume, state_tensors(model, optimizer));
    optimizer.restore_counters(s.optimizer_steps, s.loss_scale, s.good_steps);
    if (sampler_ && s.has_data_position) sampler_->set_position(s.data, resume);
    outcome_.first_step = s.step;
    if (options_.verbose)
      std::fprintf(stderr, "[zplan-run] resumed from %s at step %d%s\n", resume.c_str(), s.step,
                   s.has_data_position ? (" (epoch " + std::to_string(s.data.epoch) + ", sequence " +
                                          std::to_string(s.data.index) + ")").c_str() : "");
  }
  outcome_.steps_done = outcome_.first_step;
  interrupt_.emplace();
  return outcome_.first_step;
}

void TrainingSession::next_batch(int64_t batch, at::Device device, at::Tensor* ids, at::Tensor* targets) {
  std::vector<int64_t> ids_v, targets_v;
  sampler_->next_batch(batch, &ids_v, &targets_v);
  *ids = to_batch(ids_v, batch, seq_tokens_, device);
  *targets = to_batch(targets_v, batch, seq_tokens_, device);
}

void TrainingSession::before_optimizer_step(int step, TransformerModel& model, MixedAdamW& optimizer) {
  const double lr = learning_rate_at(schedule_, step);
  optimizer.set_lr(lr);
  outcome_.learning_rates.push_back(lr);
  grad_norm_.reset();
  if (options_.trainer.clip_grad > 0.0) {
    std::vector<at::Tensor> params;
    for (const NamedParam& p : model.params()) params.push_back(p.tensor);
    grad_norm_ = clip_grad_norm(params, options_.trainer.clip_grad, optimizer.loss_scale());
    outcome_.grad_norms.push_back(*grad_norm_);
  }
}

double TrainingSession::evaluate(TransformerModel& model, at::Device device) {
  at::NoGradGuard no_grad;
  model.set_training(false);  // no dropout while evaluating; restored below
  const int64_t windows = eval_data_->windows(seq_tokens_);
  const int64_t batches = std::max<int64_t>(1, std::min<int64_t>(options_.trainer.eval_batches, windows / micro_batch_));
  double sum = 0.0;
  int64_t w = 0;
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t rows = std::min(micro_batch_, windows - w);  // a file shorter than one batch: fewer rows
    std::vector<int64_t> ids, targets;
    for (int64_t r = 0; r < rows; ++r) eval_data_->read_window(w++, seq_tokens_, &ids, &targets);
    sum += lm_loss(model, to_batch(ids, rows, seq_tokens_, device), to_batch(targets, rows, seq_tokens_, device),
                   loss_chunks_).item<double>();
  }
  model.set_training(true);
  return sum / static_cast<double>(batches);
}

bool TrainingSession::after_step(int step, double loss, bool applied, double seconds,
                                 uint64_t peak_allocated_bytes, TransformerModel& model,
                                 MixedAdamW& optimizer) {
  const int done = step + 1;
  outcome_.steps_done = done;
  StepReport report;
  report.step = done;
  report.total_steps = options_.steps;
  report.loss = loss;
  report.lr = optimizer.lr();
  report.grad_norm = grad_norm_;
  report.skipped = !applied;
  report.tokens = tokens_per_step_;
  report.step_seconds = seconds;
  report.peak_allocated_bytes = peak_allocated_bytes;
  const TrainerOptions& t = options_.trainer;
  if (eval_data_ && ((t.eval_every > 0 && done % t.eval_every == 0) || done == options_.steps)) {
    record_eval(done, model);
    report.eval_loss = outcome_.eval_losses.back().second;
  }
  log_->record(report);
  if (t.checkpoint_every > 0 && done % t.checkpoint_every == 0 && done != options_.steps)
    write_checkpoint(t.checkpoint_path, done, model, optimizer);
  if (!InterruptGuard::requested()) return false;
  outcome_.interrupted = true;
  const std::string path = t.checkpoint_path.empty() ? kDefaultInterruptCheckpoint : t.checkpoint_path;
  std::fprintf(stderr, "[zplan-run] Ctrl-C: saving a checkpoint at step %d to %s ...\n", done, path.c_str());
  write_checkpoint(path, done, model, optimizer);
  return true;
}

void TrainingSession::record_eval(int step, TransformerModel& model) {
  const double loss = evaluate(model, model.params().front().tensor.device());
  outcome_.eval_losses.emplace_back(step, loss);
  // Full precision, for comparisons with other implementations (tools/gpu/hf_checkpoint_check.sh).
  if (options_.verbose) std::fprintf(stderr, "[zplan-run] eval loss at step %d: %.9g\n", step, loss);
}

void TrainingSession::finish(TransformerModel& model, MixedAdamW& optimizer) {
  interrupt_.reset();
  if (!outcome_.interrupted && !options_.trainer.checkpoint_path.empty() && outcome_.steps_done > outcome_.first_step)
    write_checkpoint(options_.trainer.checkpoint_path, outcome_.steps_done, model, optimizer);
  // --steps 0: no step evaluated the held-out file, so evaluate the weights as they are.
  if (eval_data_ && options_.steps == outcome_.first_step) record_eval(outcome_.steps_done, model);
  if (!outcome_.interrupted && !options_.trainer.save_hf.empty()) {
    save_hf_checkpoint(options_.trainer.save_hf, model_, model.params());
    if (options_.verbose)
      std::fprintf(stderr, "[zplan-run] Hugging Face checkpoint at step %d written to %s\n", outcome_.steps_done,
                   options_.trainer.save_hf.c_str());
  }
}

void TrainingSession::write_checkpoint(const std::string& path, int steps_done, TransformerModel& model,
                                       MixedAdamW& optimizer) {
  CheckpointState s;
  s.step = steps_done;
  s.model = model_.name;
  s.seed = options_.seed;
  s.has_data_position = sampler_ != nullptr;
  if (sampler_) s.data = sampler_->position();
  s.optimizer_steps = optimizer.steps_taken();
  s.loss_scale = optimizer.loss_scale();
  s.good_steps = optimizer.scaler().good_steps();
  save_checkpoint(path, s, state_tensors(model, optimizer));
  outcome_.checkpoint_written = path;
  if (options_.verbose) std::fprintf(stderr, "[zplan-run] checkpoint at step %d written to %s\n", steps_done, path.c_str());
}

}  // namespace zplan::rt

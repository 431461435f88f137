// training_session.h: everything run_training does besides measuring memory, behind a few hooks
// so the measuring loop in trainer.cpp stays readable:
//   constructor            reads and checks --data / --eval-data (InputError: exit 2), opens --log-jsonl
//   load_initial_weights   --init-from: the Hugging Face checkpoint's weights (checked in the constructor)
//   start()                --resume: weights, optimizer state, step and data position; returns the first step
//   next_batch()           the next [B, T] sequences of the shuffled token file
//   before_optimizer_step  sets the step's learning rate (schedule.h), clips (grad_clip.h)
//   after_step()           evaluation, progress line + JSONL, periodic checkpoint, Ctrl-C
//   finish()               the final checkpoint (--checkpoint), --save-hf; with --steps 0 the one
//                          evaluation of --eval-data (the loss of given weights on given tokens)
#pragma once

#include <memory>
#include <optional>

#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "runtime/data/sequence_sampler.h"
#include "runtime/io/hf_checkpoint_reader.h"
#include "runtime/model/transformer.h"
#include "runtime/run_api.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/interrupt.h"
#include "runtime/train/optimizer.h"
#include "runtime/train/progress_log.h"
#include "runtime/train/schedule.h"

namespace zplan::rt {

// Where Ctrl-C writes its checkpoint when --checkpoint was not given.
inline constexpr const char* kDefaultInterruptCheckpoint = "zplan_checkpoint.zpt";

class TrainingSession {
 public:
  TrainingSession(const ModelSpec& model, const TrainingSpec& training, const Strategy& strategy,
                  const RunOptions& options);
  void load_initial_weights(TransformerModel& model);
  int start(TransformerModel& model, MixedAdamW& optimizer);
  bool has_data() const { return sampler_ != nullptr; }
  void next_batch(int64_t batch, at::Device device, at::Tensor* ids, at::Tensor* targets);
  void before_optimizer_step(int step, TransformerModel& model, MixedAdamW& optimizer);
  // True when the loop must stop now (Ctrl-C; the checkpoint is already written).
  bool after_step(int step, double loss, bool applied, double seconds, uint64_t peak_allocated_bytes,
                  TransformerModel& model, MixedAdamW& optimizer);
  void finish(TransformerModel& model, MixedAdamW& optimizer);
  const TrainerOutcome& outcome() const { return outcome_; }

 private:
  double evaluate(TransformerModel& model, at::Device device);
  void record_eval(int step, TransformerModel& model);  // evaluates, prints and keeps the loss
  void write_checkpoint(const std::string& path, int steps_done, TransformerModel& model,
                        MixedAdamW& optimizer);
  NamedTensors state_tensors(TransformerModel& model, MixedAdamW& optimizer) const;

  ModelSpec model_;
  int64_t micro_batch_, seq_tokens_, tokens_per_step_;
  int64_t loss_chunks_;  // the loss path of training, also used by evaluation (chunked_loss.h)
  RunOptions options_;
  LrSchedule schedule_;
  std::unique_ptr<TokenFile> data_, eval_data_;
  std::unique_ptr<SequenceSampler> sampler_;
  std::unique_ptr<HfCheckpointReader> init_from_;
  std::optional<ProgressLog> log_;
  std::optional<InterruptGuard> interrupt_;
  std::optional<double> grad_norm_;
  TrainerOutcome outcome_;
};

}  // namespace zplan::rt

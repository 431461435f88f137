// trainer_options.h: what `zplan --run` needs beyond measuring memory: the learning-rate schedule,
// gradient clipping, the data format, evaluation, the progress log and checkpoints. No torch here,
// so the CLI (built with or without libtorch) binds its flags to this struct directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zplan {

struct TrainerOptions {
  // Learning rate: linear warm-up to RunOptions::learning_rate over warmup_steps, then cosine
  // decay to min_lr at the last step (runtime/train/schedule.h). min_lr < 0: constant lr after
  // the warm-up (the behaviour before the schedule existed, kept as the default for measurements).
  int warmup_steps = 0;       // --warmup-steps
  double min_lr = -1.0;       // --min-lr
  double clip_grad = 0.0;     // --clip-grad: max global L2 norm of the gradients; 0 = no clipping

  // Token files (runtime/data/token_data.h): a sidecar FILE.json may give dtype/eos/vocab.
  std::string data_dtype;     // --data-dtype uint16|uint32; empty: sidecar, else uint16
  int64_t eos_id = -1;        // --eos: document separator id; -1: sidecar's, else none
  std::string eval_path;      // --eval-data: held-out token file (same format rules)
  int eval_every = 0;         // --eval-every N: evaluate after every N-th step and the last one
  int eval_batches = 8;       // --eval-batches: micro-batches per evaluation (fewer if the file is short)

  std::string log_jsonl;      // --log-jsonl: one JSON object per optimizer step
  // Checkpoints (runtime/train/checkpoint.h): written to checkpoint_path at the end of the run,
  // every checkpoint_every steps, and on Ctrl-C (to checkpoint_path, or zplan_checkpoint.zpt).
  std::string checkpoint_path;  // --checkpoint
  int checkpoint_every = 0;     // --checkpoint-every
  std::string resume_path;      // --resume: continue from this checkpoint (step, weights, optimizer, data position)
  // Hugging Face checkpoints (runtime/io/hf_checkpoint_reader.h, hf_checkpoint_writer.h).
  std::string init_from;        // --init-from DIR: start from these weights (config.json + safetensors)
  std::string save_hf;          // --save-hf DIR: write the trained model for from_pretrained at the end
};

// What the trainer reports beyond memory and losses.
struct TrainerOutcome {
  int first_step = 0;              // 0, or the step a resumed run started from
  int steps_done = 0;              // the step count reached (== --steps unless interrupted)
  bool interrupted = false;        // Ctrl-C (SIGINT): the loop stopped after a step
  std::string checkpoint_written;  // the last checkpoint written, empty if none
  std::vector<double> learning_rates;              // per step run, as applied
  std::vector<double> grad_norms;                  // per step run, before clipping (empty without --clip-grad)
  std::vector<std::pair<int, double>> eval_losses; // (step, loss)
};

}  // namespace zplan

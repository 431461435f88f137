// The --run flags that make it a trainer (runtime/train/trainer_options.h): learning-rate
// schedule, clipping, data format, evaluation, JSON-lines log, checkpoints and resume. Bound here
// for both binaries (zplan hands its command line to zplan-run, which parses it again).
#include "commands.h"

namespace zplan {

void add_trainer_flags(CLI::App& app, PlanCommand& cmd) {
  TrainerOptions& t = cmd.trainer;
  app.add_option("--lr", cmd.learning_rate, "--run: peak learning rate of AdamW (default 1e-4)");
  app.add_option("--warmup-steps", t.warmup_steps, "--run: linear warm-up steps (default 0)");
  app.add_option("--min-lr", t.min_lr, "--run: cosine decay from --lr to this rate at the last step (default: no decay)");
  app.add_option("--clip-grad", t.clip_grad, "--run: clip gradients to this global L2 norm (default 0: off)");
  app.add_option("--seed", cmd.seed, "--run: seed of the initial weights and the data order (default 0)");
  app.add_option("--data-dtype", t.data_dtype, "--run: token width of --data/--eval-data, uint16 or uint32 (default: FILE.json's, else uint16)");
  app.add_option("--eos", t.eos_id, "--run: document separator id in the token files (default: FILE.json's)");
  app.add_option("--eval-data", t.eval_path, "--run: held-out token file; its loss is printed at --eval-every steps and the last");
  app.add_option("--eval-every", t.eval_every, "--run: evaluate every N steps (needs --eval-data)");
  app.add_option("--eval-batches", t.eval_batches, "--run: micro-batches per evaluation (default 8)");
  app.add_option("--log-jsonl", t.log_jsonl, "--run: append one JSON object per step to this file");
  app.add_option("--checkpoint", t.checkpoint_path, "--run: write the training state here at the end, every --checkpoint-every steps and on Ctrl-C");
  app.add_option("--checkpoint-every", t.checkpoint_every, "--run: checkpoint every N steps (needs --checkpoint)");
  app.add_option("--resume", t.resume_path, "--run: continue from this checkpoint up to --steps in total");
  app.add_option("--init-from", t.init_from, "--run: start from the weights of this Hugging Face checkpoint directory "
                 "(config.json + model.safetensors or sharded); without --model it is also the model");
  app.add_option("--save-hf", t.save_hf, "--run: write the trained model to this directory for "
                 "transformers' from_pretrained (config.json + model.safetensors; one GPU)");
}

}  // namespace zplan

// --emit-deepspeed: a DeepSpeed config that runs a chosen Strategy (see deepspeed_config.h). It
// states every dimension apply_deepspeed_config() reads back, so writing then reading a config
// gives the same Strategy and the same estimate (tests/planner/deepspeed_config_test.cpp).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "planner/format.h"
#include "planner/input_error.h"
#include "planner/io/deepspeed_config.h"

namespace zplan {
namespace {

using nlohmann::json;

json offload_block(bool on) { return {{"device", on ? "cpu" : "none"}, {"pin_memory", true}}; }

// Precision recipe -> DeepSpeed's bf16 / fp16 / torch_autocast blocks (fp32: all off).
void add_precision(json& j, Precision p) {
  if (p == Precision::bf16_pure)
    throw InputError("--emit-deepspeed", "",
                     "precision bf16-pure (bf16 weights and Adam states, no fp32 master) has no DeepSpeed config; "
                     "pin --precision bf16 for DeepSpeed's mixed precision");
  j["bf16"] = {{"enabled", p == Precision::bf16}};
  if (p == Precision::fp16) {
    // Dynamic loss scaling (loss_scale 0), DeepSpeed's documented defaults.
    j["fp16"] = {{"enabled", true},       {"loss_scale", 0},      {"loss_scale_window", 1000},
                 {"initial_scale_power", 16}, {"hysteresis", 2}, {"min_loss_scale", 1}};
  } else {
    j["fp16"] = {{"enabled", false}};
  }
  if (p == Precision::amp_bf16 || p == Precision::amp_fp16)
    j["torch_autocast"] = {{"enabled", true}, {"dtype", p == Precision::amp_bf16 ? "bfloat16" : "float16"}};
}

json zero_block(const TrainingSpec& t, const Strategy& st) {
  json z = {{"stage", st.zero_stage}};
  if (st.zero_stage == 0) return z;
  z["offload_optimizer"] = offload_block(st.offload_optimizer);
  z["overlap_comm"] = t.overlap_comm < 0 ? st.zero_stage == 3 : t.overlap_comm == 1;  // DeepSpeed's default
  z["contiguous_gradients"] = t.contiguous_gradients;
  z["reduce_bucket_size"] = t.reduce_bucket_elems;
  if (st.zero_stage < 3) {
    z["allgather_bucket_size"] = t.allgather_bucket_elems;
    return z;
  }
  z["offload_param"] = offload_block(st.offload_params);
  z["stage3_prefetch_bucket_size"] = t.prefetch_bucket_elems;
  z["stage3_param_persistence_threshold"] = t.param_persistence_threshold;
  z["stage3_max_live_parameters"] = t.max_live_parameters;
  z["sub_group_size"] = t.sub_group_size;
  return z;
}

// The Hugging Face Trainer arguments that match the plan (TrainingArguments names); with
// --deepspeed the Trainer checks them against the file (HfTrainerDeepSpeedConfig.trainer_config_process).
std::string trainer_args(const Strategy& st, const std::string& path) {
  std::string a = " train.py --deepspeed " + path + " --per_device_train_batch_size " + std::to_string(st.micro_batch) +
                  " --gradient_accumulation_steps " + std::to_string(st.grad_accumulation);
  if (st.precision == Precision::bf16 || st.precision == Precision::amp_bf16) a += " --bf16";
  if (st.precision == Precision::fp16 || st.precision == Precision::amp_fp16) a += " --fp16";
  if (st.checkpointed_layers > 0) a += " --gradient_checkpointing";
  return a;
}

std::string launch_command(const ClusterSpec& c, const Strategy& st, const std::string& path, const std::string& accel) {
  const std::string n = std::to_string(c.gpus_per_node);
  if (!accel.empty())
    return "accelerate launch --config_file " + accel + trainer_args(st, path);
  std::string cmd = "deepspeed";
  if (c.nodes > 1) cmd += " --hostfile hostfile --num_nodes " + std::to_string(c.nodes);
  return cmd + " --num_gpus " + n + trainer_args(st, path);
}

// Ulysses through transformers: accelerate's ParallelismConfig (sp_backend deepspeed) is where the
// Trainer reads the SP degree; DeepSpeed itself reads sequence_parallel_size from the JSON.
std::string write_accelerate_config(const Scenario& s, const Strategy& st, const std::string& ds_path) {
  const std::string path = ds_path + ".accelerate.yaml";
  std::ofstream f(path);
  if (!f) throw InputError("--emit-deepspeed", "", "cannot write " + path);
  f << "# accelerate config for " << ds_path << " (written by zplan --emit-deepspeed)\n"
    << "distributed_type: DEEPSPEED\ndeepspeed_config:\n  deepspeed_config_file: " << ds_path << "\n"
    << "num_machines: " << s.cluster.nodes << "\nnum_processes: " << s.cluster.world_size() << "\nmachine_rank: 0\n"
    << "parallelism_config:\n  parallelism_config_sp_size: " << st.sp_degree << "\n"
    << "  parallelism_config_dp_replicate_size: " << s.cluster.world_size() / st.sp_degree << "\n"
    << "  parallelism_config_sp_backend: deepspeed\n  parallelism_config_sp_seq_length_is_variable: true\n"
    << "  parallelism_config_sp_attn_implementation: "
    << (s.training.attention == Attention::flash ? "flash_attention_2" : "sdpa") << "\n";
  if (!f) throw InputError("--emit-deepspeed", "", "failed writing " + path);
  return path;
}

}  // namespace

json deepspeed_config_for(const Scenario& s, const Strategy& st) {
  const int64_t dp = s.cluster.world_size() / std::max(1, st.sp_degree);
  json j = json::object();
  j["train_micro_batch_size_per_gpu"] = st.micro_batch;
  j["gradient_accumulation_steps"] = st.grad_accumulation;
  // DeepSpeed's identity counts data-parallel ranks (world / SP); the Trainer fills "auto" from its
  // own world size, so with SP the Trainer is left to fill it in.
  if (st.sp_degree > 1) j["train_batch_size"] = "auto";
  else j["train_batch_size"] = st.micro_batch * st.grad_accumulation * dp;
  add_precision(j, st.precision);
  j["zero_optimization"] = zero_block(s.training, st);
  // With ZeRO-Offload DeepSpeed refuses a client optimizer (the Trainer's torch AdamW) unless
  // zero_force_ds_cpu_optimizer is false (engine.py, _configure_basic_optimizer): naming AdamW here
  // makes DeepSpeed build its DeepSpeedCPUAdam. "auto" is filled by the Trainer from its arguments.
  if (st.offload_optimizer)
    j["optimizer"] = {{"type", "AdamW"},
                      {"params", {{"lr", "auto"}, {"betas", "auto"}, {"eps", "auto"}, {"weight_decay", "auto"}}}};
  // Recompute is the model code's (the Trainer's --gradient_checkpointing); this block only says
  // where deepspeed.checkpointing keeps checkpoints, so it is written only to move them to the host.
  if (st.cpu_checkpointing) j["activation_checkpointing"] = {{"cpu_checkpointing", true}};
  if (st.sp_degree > 1) j["sequence_parallel_size"] = st.sp_degree;
  return j;
}

void write_deepspeed_config(const Scenario& s, const Strategy& st, const std::string& path, const DeepSpeedNotes& notes) {
  const double memory_fraction = notes.memory_fraction;
  if (st.loss_chunks > 1)
    throw InputError("--emit-deepspeed", "", "the plan's chunked loss path (--loss-chunks " + std::to_string(st.loss_chunks) +
                                                 ") is zplan's runtime's; a DeepSpeed launch runs Hugging Face's loss: drop --loss-chunks");
  const json j = deepspeed_config_for(s, st);
  {
    std::ofstream f(path);
    if (!f) throw InputError("--emit-deepspeed", "", "cannot write " + path);
    f << j.dump(2) << "\n";
    f.close();
    if (!f) throw InputError("--emit-deepspeed", "", "failed writing " + path);
  }
  const int64_t L = s.model.layers;
  std::cerr << "zplan: wrote DeepSpeed config " << path << " (" << strategy_summary(st, L) << ")\n";
  if (!notes.fits)
    std::cerr << "zplan: warning: this plan does not fit (" << notes.verdict << "); the config will OOM\n";
  if (s.training.framework != Framework::deepspeed)
    std::cerr << "zplan: note: the plan was estimated for framework " << to_string(s.training.framework)
              << "; rerun with --framework deepspeed for DeepSpeed's buffers\n";
  const std::string accel = st.sp_degree > 1 ? write_accelerate_config(s, st, path) : std::string();
  std::cerr << "zplan: launch (Hugging Face Trainer script): " << launch_command(s.cluster, st, path, accel) << "\n";
  if (accel.empty())
    std::cerr << "zplan:     or: accelerate launch --use_deepspeed --num_processes " << s.cluster.world_size()
              << trainer_args(st, path) << "\n";
  if (st.checkpointed_layers > 0 && st.checkpointed_layers < L)
    std::cerr << "zplan: note: this plan recomputes " << st.checkpointed_layers << " of " << L
              << " layers; --gradient_checkpointing recomputes all of them (more recompute, less memory)\n";
  char fraction[32];
  std::snprintf(fraction, sizeof fraction, "%g", memory_fraction);
  if (memory_fraction < 1.0)
    std::cerr << "zplan: note: the plan caps PyTorch's allocator at " << fraction << " of each GPU: call "
              << "torch.cuda.set_per_process_memory_fraction(" << fraction << ") in train.py before the model is "
              << "built (DeepSpeed's config has no key for it)\n";
  std::cerr << "zplan: check it: zplan check --deepspeed " << path << " --model " << s.model.name << " --gpus "
            << s.cluster.gpus_per_node << "x" << s.cluster.gpu.name << " --seq " << s.training.seq_len
            << (st.checkpointed_layers > 0 ? " --gradient-checkpointing" : "")
            << (memory_fraction < 1.0 ? std::string(" --memory-fraction ") + fraction : std::string()) << "\n";
  if (st.sp_degree > 1)
    std::cerr << "zplan: note: Ulysses " << st.sp_degree << ": DeepSpeed reads sequence_parallel_size from " << path
              << ", the Trainer reads parallelism_config from " << accel << " (accelerate >= 1.12)\n";
}

}  // namespace zplan

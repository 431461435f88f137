// --emit-deepspeed: a DeepSpeed config that runs a chosen Strategy (see deepspeed_config.h). It
// states every dimension apply_deepspeed_config() reads back, so writing then reading a config
// gives the same Strategy and the same estimate (tests/planner/deepspeed_config_test.cpp).
#include <algorithm>
#include <fstream>
#include <iostream>

#include "planner/input_error.h"
#include "planner/io/deepspeed_config.h"
#include "planner/report/plan_report.h"  // strategy_summary

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

std::string launch_command(const ClusterSpec& c, const std::string& path, bool torchrun) {
  const std::string n = std::to_string(c.gpus_per_node);
  if (torchrun) {
    std::string cmd = "torchrun --nproc_per_node " + n;
    if (c.nodes > 1)
      cmd += " --nnodes " + std::to_string(c.nodes) + " --rdzv-backend c10d --rdzv-endpoint MASTER_HOST:29500";
    return cmd + " train.py --deepspeed " + path;
  }
  std::string cmd = "deepspeed";
  if (c.nodes > 1) cmd += " --hostfile hostfile --num_nodes " + std::to_string(c.nodes);
  return cmd + " --num_gpus " + n + " train.py --deepspeed " + path;
}

}  // namespace

json deepspeed_config_for(const Scenario& s, const Strategy& st) {
  const int64_t dp = s.cluster.world_size() / std::max(1, st.sp_degree);
  json j = json::object();
  j["train_micro_batch_size_per_gpu"] = st.micro_batch;
  j["gradient_accumulation_steps"] = st.grad_accumulation;
  j["train_batch_size"] = st.micro_batch * st.grad_accumulation * dp;
  add_precision(j, st.precision);
  j["zero_optimization"] = zero_block(s.training, st);
  // DeepSpeed reads this block only for layers wrapped in deepspeed.checkpointing.checkpoint; it
  // records the plan's recompute choice either way (see the note printed on emit).
  j["activation_checkpointing"] = {{"partition_activations", false},
                                   {"cpu_checkpointing", st.cpu_checkpointing},
                                   {"number_checkpoints", st.checkpointed_layers},
                                   {"contiguous_memory_optimization", false}};
  if (st.sp_degree > 1) j["sequence_parallel_size"] = st.sp_degree;
  return j;
}

void write_deepspeed_for_plan(const Scenario& s, const Plan& plan, const std::string& path) {
  const Strategy& st = plan.chosen.strategy;
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
  if (!plan.feasible)
    std::cerr << "zplan: warning: this plan does not fit (" << plan.chosen.verdict << "); the config will OOM\n";
  if (s.training.framework != Framework::deepspeed)
    std::cerr << "zplan: note: the plan was estimated for framework " << to_string(s.training.framework)
              << "; rerun with --framework deepspeed for DeepSpeed's buffers\n";
  std::cerr << "zplan: launch: " << launch_command(s.cluster, path, false) << "\n"
            << "zplan:     or: " << launch_command(s.cluster, path, true) << "\n";
  if (st.checkpointed_layers > 0) {
    std::cerr << "zplan: note: DeepSpeed does not recompute activations by itself: your model code checkpoints whole "
                 "layers (Hugging Face: model.gradient_checkpointing_enable(), which checkpoints all layers)";
    if (st.checkpointed_layers < L)
      std::cerr << "; this plan checkpoints " << st.checkpointed_layers << " of " << L
                << " layers, so wrap only that many decoder layers in torch.utils.checkpoint";
    std::cerr << ".\n";
    if (st.cpu_checkpointing)
      std::cerr << "zplan: note: cpu_checkpointing applies to layers checkpointed through "
                   "deepspeed.checkpointing.checkpoint (call deepspeed.checkpointing.configure(None, deepspeed_config="
                << path << ") and pass it as the checkpoint function), not to torch.utils.checkpoint.\n";
  }
  if (st.sp_degree > 1)
    std::cerr << "zplan: note: sequence_parallel_size " << st.sp_degree
              << " needs Ulysses in the model (deepspeed.sequence.layer.DistributedAttention around attention) and "
                 "each rank fed 1/"
              << st.sp_degree << " of every sequence.\n";
}

}  // namespace zplan

// DeepSpeed's config keys (see deepspeed_keys.h). Aliases are listed under both spellings, as
// DeepSpeed accepts both (populate_by_name), and deprecated keys DeepSpeed still reads are kept.
#include "planner/io/deepspeed_keys.h"

namespace zplan {

const std::vector<std::string>& deepspeed_top_level_keys() {
  static const std::vector<std::string> keys = {
      // batch
      "train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps",
      "managed_gradient_accumulation", "dataloader_drop_last",
      // optimizer and its numerics
      "optimizer", "scheduler", "gradient_clipping", "prescale_gradients", "gradient_predivide_factor",
      "gradient_allreduce_op", "sparse_gradients", "communication_data_type", "seq_parallel_communication_data_type",
      "zero_allow_untested_optimizer", "zero_force_ds_cpu_optimizer", "data_types",
      // precision
      "fp16", "bf16", "bfloat16", "amp", "torch_autocast",
      // memory
      "zero_optimization", "activation_checkpointing", "aio", "sparse_attention",
      // parallelism (sequence_parallel: the {"enabled", "size"} block users write for Ulysses)
      "sequence_parallel_size", "data_parallel_size", "sequence_parallel", "tensor_parallel", "expert_parallel",
      "pipeline", "use_data_before_expert_parallelism", "disable_allgather",
      // logging, monitoring, profiling
      "steps_per_print", "wall_clock_breakdown", "memory_breakdown", "dump_state", "log_level", "timers",
      "flops_profiler", "tensorboard", "wandb", "csv_monitor", "comet", "comms_logger", "monitor_config",
      // other subsystems
      "checkpoint", "nebula", "autotuning", "elasticity", "data_efficiency", "curriculum_learning",
      "compression_training", "quantize_training", "weight_quantization", "hybrid_engine", "compile",
      "eigenvalue", "progressive_layer_drop", "graph_harvesting", "vocabulary_size"};
  return keys;
}

const std::vector<std::string>& deepspeed_zero_keys() {
  static const std::vector<std::string> keys = {
      "stage", "contiguous_gradients", "reduce_scatter", "reduce_bucket_size", "use_multi_rank_bucket_allreduce",
      "allgather_partitions", "allgather_bucket_size", "overlap_comm", "load_from_fp32_weights", "elastic_checkpoint",
      "offload_param", "offload_optimizer", "zenflow", "sub_group_size", "cpu_offload_param",
      "cpu_offload_use_pin_memory", "cpu_offload", "prefetch_bucket_size", "stage3_prefetch_bucket_size",
      "param_persistence_threshold", "stage3_param_persistence_threshold", "model_persistence_threshold",
      "stage3_model_persistence_threshold", "max_live_parameters", "stage3_max_live_parameters", "max_reuse_distance",
      "stage3_max_reuse_distance", "gather_16bit_weights_on_model_save", "stage3_gather_16bit_weights_on_model_save",
      "module_granularity_threshold", "stage3_module_granularity_threshold", "use_all_reduce_for_fetch_params",
      "stage3_use_all_reduce_for_fetch_params", "allgather_sequential", "stage3_allgather_sequential",
      "stage3_gather_fp16_weights_on_model_save", "ignore_unused_parameters", "legacy_stage1", "round_robin_gradients",
      "zero_hpz_partition_size", "zero_quantized_weights", "zero_quantized_nontrainable_weights",
      "zero_quantized_gradients", "zeropp_loco_param", "mics_shard_size", "mics_hierarchical_params_gather",
      "memory_efficient_linear", "pipeline_loading_checkpoint", "override_module_apply", "log_trace_cache_warnings",
      "enable_sanity_checks", "save_muon_momentum_buffer_in_memory", "leaf_module",
      "cpu_offload_params"};  // zplan has always read this pre-0.5 spelling of cpu_offload_param
  return keys;
}

const std::vector<std::string>& deepspeed_offload_keys(const std::string& block) {
  static const std::vector<std::string> param = {"device", "nvme_path", "buffer_count", "buffer_size", "max_in_cpu",
                                                 "pin_memory"};
  static const std::vector<std::string> optimizer = {
      "device", "nvme_path", "buffer_count", "pin_memory", "pipeline_read", "pipeline_write", "fast_init", "ratio",
      "super_offload", "cpuadam_cores_perc", "pipeline"};
  return block == "offload_param" ? param : optimizer;
}

const std::vector<std::string>& deepspeed_precision_keys(const std::string& block) {
  static const std::vector<std::string> bf16 = {"enabled", "immediate_grad_update", "check_overflow",
                                                "bf16_master_weights_and_grads", "bf16_optimizer_states"};
  static const std::vector<std::string> fp16 = {
      "enabled", "auto_cast", "loss_scale", "initial_scale_power", "loss_scale_window", "hysteresis",
      "consecutive_hysteresis", "min_loss_scale", "fp16_master_weights_and_grads"};
  static const std::vector<std::string> autocast = {"enabled", "dtype", "lower_precision_safe_modules"};
  if (block == "fp16") return fp16;
  if (block == "torch_autocast") return autocast;
  return bf16;
}

const std::vector<std::string>& deepspeed_checkpointing_keys() {
  static const std::vector<std::string> keys = {"partition_activations", "number_checkpoints",
                                                "contiguous_memory_optimization", "synchronize_checkpoint_boundary",
                                                "profile", "cpu_checkpointing"};
  return keys;
}

}  // namespace zplan

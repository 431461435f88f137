// measure_runtime: runs zplan's runtime (run_api.h) for one configuration and appends one JSON
// line with the measured MemoryBreakdown (every phase of every step) to --out. tools/gpu/check.sh
// calls it over the GPU matrix; until `zplan --run` exists this is how runtime numbers are taken.
//   zplan_measure_runtime --model qwen3-0.6b --seq 2048 --micro-batch 1 --ckpt half --out m.jsonl
// --layers N truncates the model to its first N layers (a 2-layer Qwen3-30B-A3B fits one GPU).
// --kernel-profile F writes the GPU time of every kernel of the run to F (kernel_profile.h).
// Exit status: 0 ran (also when the run hit OOM: that is a measurement), 2 bad input.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "planner/input_error.h"
#include "planner/io/model_loader.h"
#include "planner/io/breakdown_json.h"
#include "runtime/run_api.h"
#include "tools/gpu/kernel_profile.h"

int main(int argc, char** argv) {
  CLI::App app{"zplan runtime memory measurement (one configuration, one JSON line)"};
  std::string model_name = "qwen3-0.6b", ckpt = "none", precision = "bf16", attn = "sdpa", norm_kernel = "fused",
              adamw_kernel = "fused-master", elementwise_kernel = "fused",
              cross_entropy_kernel = "fused", experts = "grouped_mm";
  std::string out_path, label, data_path, device = "auto", kernel_profile_path;
  int64_t layers = 0, seq = 2048, micro_batch = 1, grad_accum = 1, loss_chunks = 0;
  int steps = 3;
  bool cpu_ckpt = false;
  app.add_option("--model", model_name, "built-in model name or model YAML/config.json path");
  app.add_option("--layers", layers, "truncate to the first N layers (0 = all)");
  app.add_option("--seq", seq, "tokens per sequence");
  app.add_option("--micro-batch", micro_batch, "sequences per micro-step");
  app.add_option("--grad-accum", grad_accum, "micro-steps per optimizer step");
  app.add_option("--ckpt", ckpt, "none | half | all | N (first N layers recompute)");
  app.add_flag("--cpu-ckpt", cpu_ckpt, "keep checkpointed layer inputs in pinned host memory");
  app.add_option("--loss-chunks", loss_chunks, "loss path: 0 = whole logits, N = lm_head + cross-entropy in N token chunks");
  app.add_option("--precision", precision, "bf16 | fp16 | fp32 | amp-bf16 | amp-fp16");
  app.add_option("--attn", attn, "sdpa | flash | eager");
  app.add_option("--norm-kernel", norm_kernel, "fused | composite (RMSNorm: at::_fused_rms_norm where it exists, or transformers' expression)");
  app.add_option("--adamw-kernel", adamw_kernel, "fused-master | upcast (bf16/fp16 masters: zplan's one-pass kernel where built, or an fp32 copy of each gradient for at::_fused_adamw_)");
  app.add_option("--elementwise-kernel", elementwise_kernel, "fused | composite (SwiGLU and RoPE: zplan's kernels where built, or PyTorch's eager ops)");
  app.add_option("--cross-entropy-kernel", cross_entropy_kernel, "fused | composite (the plain loss path: zplan's cross-entropy kernels where built, or transformers' fp32 log_softmax and nll_loss)");
  app.add_option("--experts", experts, "grouped_mm | loop (MoE experts: at::_grouped_mm where it exists, or one mm per expert)");
  app.add_option("--steps", steps, "optimizer steps");
  app.add_option("--data", data_path, "flat uint16 token file (default: synthetic tokens)");
  app.add_option("--device", device, "auto | cpu | cuda");
  app.add_option("--label", label, "name of this run in the output");
  app.add_option("--out", out_path, "JSON-lines file to append to (default: stdout)");
  app.add_option("--kernel-profile", kernel_profile_path,
                 "write each GPU kernel's launches and time over the run to this TSV (Kineto)");
  CLI11_PARSE(app, argc, argv);

  try {
    zplan::ModelSpec model = zplan::load_model(model_name);
    if (layers > 0 && layers < model.layers) {
      model.layers = layers;
      model.name += "-" + std::to_string(layers) + "l";
    }
    zplan::TrainingSpec training;
    training.seq_len = seq;
    training.framework = zplan::Framework::plain;
    if (!zplan::parse_attention(attn, &training.attention))
      throw zplan::InputError("--attn", "", "expected sdpa, flash or eager");
    if (!zplan::parse_norm_impl(norm_kernel, &training.norm))
      throw zplan::InputError("--norm-kernel", "", "expected fused or composite");
    if (!zplan::parse_adamw_impl(adamw_kernel, &training.adamw))
      throw zplan::InputError("--adamw-kernel", "", "expected fused-master or upcast");
    if (!zplan::parse_elementwise_impl(elementwise_kernel, &training.elementwise))
      throw zplan::InputError("--elementwise-kernel", "", "expected fused or composite");
    if (!zplan::parse_cross_entropy_impl(cross_entropy_kernel, &training.cross_entropy))
      throw zplan::InputError("--cross-entropy-kernel", "", "expected fused or composite");
    if (!zplan::parse_experts_impl(experts, &training.experts) || training.experts == zplan::ExpertsImpl::eager)
      throw zplan::InputError("--experts", "", "expected grouped_mm or loop");
    zplan::Strategy strategy;
    strategy.micro_batch = micro_batch;
    strategy.grad_accumulation = grad_accum;
    strategy.cpu_checkpointing = cpu_ckpt;
    strategy.loss_chunks = loss_chunks;
    if (!zplan::parse_precision(precision, &strategy.precision))
      throw zplan::InputError("--precision", "", "expected bf16, fp16, fp32, amp-bf16 or amp-fp16");
    if (ckpt == "none") strategy.checkpointed_layers = 0;
    else if (ckpt == "half") strategy.checkpointed_layers = model.layers / 2;
    else if (ckpt == "all" || ckpt == "full") strategy.checkpointed_layers = model.layers;
    else strategy.checkpointed_layers = std::stoll(ckpt);

    zplan::RunOptions opts;
    opts.steps = steps;
    opts.data_path = data_path;
    opts.device = device;
    zplan::RunResult r;
    const auto train = [&] { r = zplan::run_training(model, training, strategy, opts); };
    if (kernel_profile_path.empty()) train();
    else zplan::tools::run_with_kernel_profile(kernel_profile_path, steps, train);

    nlohmann::json j;
    j["profile"] = "zplan";
    j["label"] = label;
    j["world_size"] = 1;
    j["gpu"] = r.device_name;
    j["model"] = model.name;
    j["parameters"] = r.parameters;
    j["scenario"] = {{"model", model_name}, {"layers", model.layers}, {"seq", seq},
                     {"attention", attn}, {"steps", steps}};
    if (!r.experts_implementation.empty()) j["scenario"]["experts_implementation"] = r.experts_implementation;
    if (!r.norm_implementation.empty()) j["scenario"]["norm_implementation"] = r.norm_implementation;
    if (!r.adamw_implementation.empty()) j["scenario"]["adamw_implementation"] = r.adamw_implementation;
    if (!r.elementwise_implementation.empty()) j["scenario"]["elementwise_implementation"] = r.elementwise_implementation;
    if (!r.cross_entropy_implementation.empty()) j["scenario"]["cross_entropy_implementation"] = r.cross_entropy_implementation;
    j["strategy"] = {{"zero_stage", 0}, {"checkpointed_layers", strategy.checkpointed_layers},
                     {"cpu_checkpointing", cpu_ckpt}, {"sp_degree", 1},
                     {"micro_batch", micro_batch}, {"grad_accumulation", grad_accum},
                     {"precision", precision}, {"loss_chunks", loss_chunks}};
    j["oom"] = r.oom;
    j["failed_phase"] = (r.oom || !r.error.empty()) ? zplan::to_string(r.failed_phase) : "";
    j["error"] = r.error;
    j["losses"] = r.losses;
    j["skipped_steps"] = r.skipped_steps;
    j["measurement"] = {{"memory", zplan::memory_to_json(r.measured)},
                        {"time", {{"step_seconds", r.step_seconds},
                                  {"tokens_per_second", r.tokens_per_second}}}};
    nlohmann::json steps_json = nlohmann::json::array();
    for (const auto& s : r.per_step) steps_json.push_back(zplan::memory_to_json(s));
    j["per_step"] = steps_json;
    if (out_path.empty()) {
      std::cout << j.dump() << "\n";
    } else {
      std::ofstream out(out_path, std::ios::app);
      out << j.dump() << "\n";
    }
    std::cerr << "[measure] " << label << " peak " << r.measured.peak_allocated_bytes / 1073741824.0
              << " GiB reserved " << r.measured.reserved_bytes / 1073741824.0 << " GiB"
              << (r.oom ? " OOM" : "") << "\n";
    return 0;
  } catch (const zplan::InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}

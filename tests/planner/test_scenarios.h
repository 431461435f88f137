// The scenario the planner tests search: a built-in model on a --gpus cluster, predicting Hugging
// Face transformers under the framework the CLI defaults to (DeepSpeed on several GPUs).
#pragma once
#include <cstdint>
#include <string>

#include "planner/config/scenario.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"

inline zplan::Scenario scenario(const std::string& model, const std::string& gpus, int64_t seq) {
  zplan::Scenario s;
  s.model = zplan::load_model(model);
  s.cluster = zplan::cluster_from_gpus_flag(gpus);
  s.training.seq_len = seq;
  s.training.profile = zplan::Profile::hf;
  s.training.framework = s.cluster.world_size() > 1 ? zplan::Framework::deepspeed : zplan::Framework::plain;
  return s;
}

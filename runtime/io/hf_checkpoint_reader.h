// hf_checkpoint_reader.h: load a Hugging Face checkpoint directory into zplan's runtime model
// (--init-from DIR). DIR holds config.json and either model.safetensors or the shards named by
// model.safetensors.index.json ({"weight_map": {tensor: file}}). Files are memory-mapped read-only
// and each tensor is copied straight into its parameter (host RAM: the pages being copied).
//
// Names come from the parameter table (planner/memory/params.h, hf_tensors): every HF tensor of
// the model must be in the files with its shape; dtypes BF16/F16/F32/F64 are converted to the
// parameter's. Besides the table's own names the reader accepts what transformers itself writes:
//   - routed experts in the per-expert layout transformers 5 saves by default
//     (mlp.experts.N.gate_proj/up_proj/down_proj.weight, stacked into gate_up_proj / down_proj);
//   - lm_head.weight beside tied embeddings (ignored: the head is the embedding);
//   - a base model's keys without the "transformer." / "model." prefix;
//   - GPT-2's attention-mask buffers (attn.bias, attn.masked_bias) in old checkpoints (ignored).
// Anything else is an error: a missing or unexpected tensor, a wrong shape, a truncated file, or a
// config.json that disagrees with the model -> InputError naming the file and the tensor or field.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "planner/config/model_spec.h"
#include "runtime/io/safetensors_file.h"
#include "runtime/model/transformer.h"

namespace zplan::rt {

class HfCheckpointReader {
 public:
  // Opens and checks everything (config, files, names, shapes, dtypes) without touching tensor
  // data, so a bad checkpoint fails before the model is built.
  HfCheckpointReader(const std::string& dir, const ModelSpec& spec);
  ~HfCheckpointReader();
  // Copies every tensor into `params` (TransformerModel::params(): the table's HF tensors).
  void copy_into(const std::vector<NamedParam>& params) const;
  int64_t tensors_read() const;  // tensors taken from the files (per-expert ones counted singly)

 private:
  struct Piece;   // one file tensor and where in a parameter it goes
  std::string dir_;
  std::vector<std::unique_ptr<MappedSafetensors>> files_;
  std::vector<std::pair<std::string, std::vector<Piece>>> plan_;  // per parameter, table order
};

// The checkpoint directory a run would load: DIR/config.json (for --model defaulting to it).
std::string hf_config_path(const std::string& dir);

}  // namespace zplan::rt

// checkpoint.h: training state on disk, so that a run stopped (Ctrl-C, --checkpoint-every) can be
// resumed with --resume. One file:
//   line 1   "ZPLAN-CHECKPOINT 1"
//   line 2   the byte length H of the header
//   H bytes  header JSON: {"step", "model", "seed", "data": {"epoch", "index"} or null,
//            "optimizer": {"steps_taken", "loss_scale", "good_steps"},
//            "tensors": [{"name", "dtype", "shape", "offset", "bytes"}], "data_bytes"}
//   then     each tensor's bytes (contiguous, host byte order) at data start + offset.
// Tensors: the model's parameters by their names, then the optimizer's fp32 states
// (MixedAdamW::state_tensors). The file is written to PATH.tmp, flushed to disk and renamed, so
// PATH is either the previous checkpoint or the complete new one, never half a file.
// This is the runtime's own resume format, not a Hugging Face checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/data/sequence_sampler.h"
#include "runtime/torch_compat.h"

namespace zplan::rt {

struct CheckpointState {
  int step = 0;                 // optimizer steps done: the resumed run starts at this step
  std::string model;            // ModelSpec::name, checked on resume
  uint64_t seed = 0;
  bool has_data_position = false;
  DataPosition data;
  int64_t optimizer_steps = 0;  // MixedAdamW::steps_taken (fp16 skipped steps not counted)
  double loss_scale = 1.0;
  int good_steps = 0;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Throws InputError(path) when the file cannot be written or renamed.
void save_checkpoint(const std::string& path, const CheckpointState& state, const NamedTensors& tensors);

// Reads PATH's header and checks that it is complete (size matches, every tensor inside the file).
// Throws InputError(path, field, problem) otherwise.
CheckpointState read_checkpoint_header(const std::string& path);

// Reads PATH and copies every tensor into `tensors` (same names, dtypes and shapes required: a
// mismatch names the tensor). Throws InputError on any problem; `tensors` may then be partly
// overwritten, which is harmless because the run stops.
CheckpointState load_checkpoint(const std::string& path, const NamedTensors& tensors);

}  // namespace zplan::rt

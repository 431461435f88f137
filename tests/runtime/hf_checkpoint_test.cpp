// hf_checkpoint_test.cpp: Hugging Face checkpoints in and out of the runtime (runtime/io/):
// safetensors round trips for the block families (bit-identical parameters), sharded loading,
// the per-expert layout transformers saves, and bad checkpoints (truncated file, wrong shape,
// missing or unexpected tensor, config.json disagreeing with the model) -> InputError naming them.
#include "tests/runtime/torch_doctest.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "planner/input_error.h"
#include "planner/io/hf_config.h"
#include "planner/io/hf_config_writer.h"
#include "runtime/io/hf_checkpoint_reader.h"
#include "runtime/io/hf_checkpoint_writer.h"
#include "runtime/io/remove_tree.h"
#include "runtime/io/safetensors_file.h"
#include "tests/runtime/test_models.h"

namespace fs = std::filesystem;
using namespace zplan;
using namespace zplan::rt;

namespace {

std::unique_ptr<TransformerModel> build(const ModelSpec& spec, uint64_t seed, at::ScalarType dtype = at::kFloat) {
  at::manual_seed(seed);
  BuildOptions opt;
  opt.dtype = dtype;
  return std::make_unique<TransformerModel>(spec, opt);
}

// A fresh directory under the system's temporary directory, removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("zplan_hf_test_" + tag + "_" + std::to_string(::getpid()));
    remove_tree(path.string());
    fs::create_directories(path);
  }
  ~TempDir() { remove_tree(path.string()); }  // not fs::remove_all: runtime/io/remove_tree.h
  std::string str(const std::string& child = "") const { return (child.empty() ? path : path / child).string(); }
};

void write_config(const std::string& dir, const ModelSpec& spec) {
  std::ofstream(fs::path(dir) / "config.json") << hf_config_json(spec, "float32").dump(2);
}

bool same_params(const TransformerModel& a, const TransformerModel& b) {
  if (a.params().size() != b.params().size()) return false;
  for (size_t i = 0; i < a.params().size(); ++i)
    if (a.params()[i].name != b.params()[i].name || !at::equal(a.params()[i].tensor, b.params()[i].tensor)) return false;
  return true;
}

std::string load_error(const std::string& dir, const ModelSpec& spec) {
  try {
    HfCheckpointReader reader(dir, spec);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("save_hf then init-from gives bit-identical parameters for every runtime family") {
  for (const ModelSpec& spec : {test::tiny_qwen3(), test::tiny_llama(), test::tiny_gpt2(), test::tiny_moe()}) {
    CAPTURE(spec.name);
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      TempDir tmp(spec.name);
      auto saved = build(spec, 1, dtype);
      save_hf_checkpoint(tmp.str("ckpt"), spec, saved->params());
      CHECK(fs::exists(tmp.str("ckpt/config.json")));
      CHECK(fs::exists(tmp.str("ckpt/model.safetensors")));
      auto fresh = build(spec, 2, dtype);
      REQUIRE_FALSE(same_params(*saved, *fresh));  // different seeds: the load must do the work
      HfCheckpointReader(tmp.str("ckpt"), spec).copy_into(fresh->params());
      CHECK(same_params(*saved, *fresh));
      // Nothing but the directory is left behind (the temporary one was renamed).
      int entries = 0;
      for (const auto& e : fs::directory_iterator(tmp.path)) entries += e.path().filename() == "ckpt" ? 1 : 100;
      CHECK(entries == 1);
    }
  }
}

TEST_CASE("the written files are what transformers reads") {
  const ModelSpec spec = test::tiny_moe();
  TempDir tmp("layout");
  auto model = build(spec, 3);
  save_hf_checkpoint(tmp.str("ckpt"), spec, model->params());
  nlohmann::json config = nlohmann::json::parse(std::ifstream(tmp.str("ckpt/config.json")));
  CHECK(config["model_type"] == "qwen3_moe");
  CHECK(config["architectures"][0] == "Qwen3MoeForCausalLM");
  CHECK(config["num_experts"] == 8);
  CHECK(config["head_dim"] == 16);
  MappedSafetensors file(tmp.str("ckpt/model.safetensors"));
  // Experts in transformers' per-expert layout, nn.Linear [out, in].
  const SafetensorsEntry* gate = file.find("model.layers.1.mlp.experts.7.gate_proj.weight");
  REQUIRE(gate != nullptr);
  CHECK(gate->shape == std::vector<int64_t>{24, 32});
  CHECK(file.find("model.layers.1.mlp.experts.gate_up_proj") == nullptr);
  CHECK(file.find("lm_head.weight") != nullptr);  // tiny_moe does not tie
  CHECK(gate->dtype == "F32");
  // Data aligned to 8 bytes, as the reference writer keeps it.
  std::ifstream raw(tmp.str("ckpt/model.safetensors"), std::ios::binary);
  uint64_t n = 0;
  raw.read(reinterpret_cast<char*>(&n), 8);
  CHECK(n % 8 == 0);

  // GPT-2: fused c_attn in Conv1D [in, out] layout, tied head not stored.
  const ModelSpec g = test::tiny_gpt2();
  auto gpt2 = build(g, 3);
  save_hf_checkpoint(tmp.str("gpt2"), g, gpt2->params());
  MappedSafetensors gf(tmp.str("gpt2/model.safetensors"));
  REQUIRE(gf.find("transformer.h.0.attn.c_attn.weight") != nullptr);
  CHECK(gf.find("transformer.h.0.attn.c_attn.weight")->shape == std::vector<int64_t>{32, 96});
  CHECK(gf.find("lm_head.weight") == nullptr);
}

TEST_CASE("Mixtral is saved and loaded under its on-disk names (block_sparse_moe, experts.N.w1/w3/w2)") {
  // transformers 5 holds Mixtral like Qwen3-MoE (mlp.gate, mlp.experts.gate_up_proj) but converts
  // to and from the published checkpoints' names: w1 the gate, w3 the up, w2 the down projection.
  const ModelSpec spec = load_hf_config_file(std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/run/tiny-mixtral.json");
  REQUIRE(hf_model_type(spec) == "mixtral");
  TempDir tmp("mixtral");
  auto saved = build(spec, 11);
  save_hf_checkpoint(tmp.str("ckpt"), spec, saved->params());
  nlohmann::json config = nlohmann::json::parse(std::ifstream(tmp.str("ckpt/config.json")));
  CHECK(config["model_type"] == "mixtral");
  CHECK(config["num_local_experts"] == 4);
  CHECK(config["sliding_window"] == 24);
  const ModelSpec reread = load_hf_config_file(tmp.str("ckpt/config.json"));
  CHECK(reread.sliding_window == 24);
  CHECK(reread.moe.normalize_topk);

  MappedSafetensors file(tmp.str("ckpt/model.safetensors"));
  REQUIRE(file.find("model.layers.1.block_sparse_moe.gate.weight") != nullptr);
  CHECK(file.find("model.layers.1.block_sparse_moe.gate.weight")->shape == std::vector<int64_t>{4, 64});
  for (const char* w : {"w1", "w3"}) {
    const std::string name = std::string("model.layers.1.block_sparse_moe.experts.3.") + w + ".weight";
    CAPTURE(name);
    REQUIRE(file.find(name) != nullptr);
    CHECK(file.find(name)->shape == std::vector<int64_t>{96, 64});
  }
  REQUIRE(file.find("model.layers.0.block_sparse_moe.experts.0.w2.weight") != nullptr);
  CHECK(file.find("model.layers.0.block_sparse_moe.experts.0.w2.weight")->shape == std::vector<int64_t>{64, 96});
  CHECK(file.find("model.layers.1.mlp.gate.weight") == nullptr);
  CHECK(file.find("model.layers.1.block_sparse_moe.experts.3.gate_proj.weight") == nullptr);

  // w1 is the first (gate) half of the runtime's gate_up_proj, w3 the second (up) half.
  at::Tensor gate_up;
  for (const NamedParam& p : saved->params())
    if (p.name == "model.layers.1.mlp.experts.gate_up_proj") gate_up = p.tensor.detach();
  REQUIRE(gate_up.defined());
  for (const auto& [name, t] : hf_state_dict(saved->params(), spec)) {
    if (name == "model.layers.1.block_sparse_moe.experts.3.w1.weight") CHECK(at::equal(t, gate_up[3].narrow(0, 0, 96)));
    if (name == "model.layers.1.block_sparse_moe.experts.3.w3.weight") CHECK(at::equal(t, gate_up[3].narrow(0, 96, 96)));
  }

  auto fresh = build(spec, 12);
  REQUIRE_FALSE(same_params(*saved, *fresh));
  HfCheckpointReader(tmp.str("ckpt"), spec).copy_into(fresh->params());
  CHECK(same_params(*saved, *fresh));
  // A missing expert is named with its on-disk spelling.
  std::vector<std::pair<std::string, at::Tensor>> partial;
  for (auto& kv : hf_state_dict(saved->params(), spec))
    if (kv.first != "model.layers.0.block_sparse_moe.experts.2.w3.weight") partial.push_back(kv);
  fs::create_directories(tmp.str("partial"));
  write_config(tmp.str("partial"), spec);
  write_safetensors(tmp.str("partial/model.safetensors"), partial);
  CHECK(contains(load_error(tmp.str("partial"), spec), "model.layers.0.block_sparse_moe.experts.2.w3.weight"));
}

TEST_CASE("a checkpoint with fused experts, a base-model prefix or GPT-2 mask buffers loads too") {
  TempDir tmp("variants");
  const ModelSpec moe = test::tiny_moe();
  auto saved = build(moe, 4);
  std::vector<std::pair<std::string, at::Tensor>> fused;
  for (const NamedParam& p : saved->params()) fused.emplace_back(p.name, p.tensor.detach());
  fs::create_directories(tmp.str("fused"));
  write_config(tmp.str("fused"), moe);
  write_safetensors(tmp.str("fused/model.safetensors"), fused);
  auto fresh = build(moe, 5);
  HfCheckpointReader(tmp.str("fused"), moe).copy_into(fresh->params());
  CHECK(same_params(*saved, *fresh));

  const ModelSpec g = test::tiny_gpt2();  // old hub GPT-2 files: GPT2Model keys and attn.bias buffers
  auto gs = build(g, 6);
  std::vector<std::pair<std::string, at::Tensor>> base;
  for (const NamedParam& p : gs->params()) base.emplace_back(p.name.substr(std::string("transformer.").size()), p.tensor.detach());
  base.emplace_back("h.0.attn.bias", at::ones({1, 1, 64, 64}));
  base.emplace_back("lm_head.weight", gs->params().front().tensor.detach());  // tied: ignored
  fs::create_directories(tmp.str("gpt2"));
  write_config(tmp.str("gpt2"), g);
  write_safetensors(tmp.str("gpt2/model.safetensors"), base);
  auto gf = build(g, 7);
  HfCheckpointReader(tmp.str("gpt2"), g).copy_into(gf->params());
  CHECK(same_params(*gs, *gf));
}

TEST_CASE("a sharded checkpoint (model.safetensors.index.json) loads") {
  const ModelSpec spec = test::tiny_qwen3();
  TempDir tmp("sharded");
  auto saved = build(spec, 8, at::kBFloat16);
  const auto all = hf_state_dict(saved->params(), spec);
  const size_t half = all.size() / 2;
  std::vector<std::pair<std::string, at::Tensor>> a(all.begin(), all.begin() + half), b(all.begin() + half, all.end());
  write_safetensors(tmp.str("model-00001-of-00002.safetensors"), a);
  write_safetensors(tmp.str("model-00002-of-00002.safetensors"), b);
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  for (const auto& [name, t] : a) index["weight_map"][name] = "model-00001-of-00002.safetensors";
  for (const auto& [name, t] : b) index["weight_map"][name] = "model-00002-of-00002.safetensors";
  std::ofstream(tmp.str("model.safetensors.index.json")) << index.dump();
  write_config(tmp.str(), spec);
  auto fresh = build(spec, 9, at::kFloat);  // bf16 file into fp32 parameters: converted exactly
  HfCheckpointReader(tmp.str(), spec).copy_into(fresh->params());
  for (size_t i = 0; i < fresh->params().size(); ++i)
    CHECK(at::equal(fresh->params()[i].tensor, saved->params()[i].tensor.to(at::kFloat)));

  // An index entry that points at the wrong shard names the tensor and the shard.
  index["weight_map"][a.front().first] = "model-00002-of-00002.safetensors";
  std::ofstream(tmp.str("model.safetensors.index.json")) << index.dump();
  const std::string err = load_error(tmp.str(), spec);
  CHECK(contains(err, "model-00002-of-00002.safetensors"));
  CHECK(contains(err, a.front().first));
}

TEST_CASE("bad checkpoints: InputError naming the file and the tensor or field") {
  const ModelSpec spec = test::tiny_qwen3();
  TempDir tmp("bad");
  auto model = build(spec, 10);
  const auto state = hf_state_dict(model->params(), spec);
  auto write_dir = [&](const std::string& name, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
    fs::create_directories(tmp.str(name));
    write_config(tmp.str(name), spec);
    write_safetensors(tmp.str(name + "/model.safetensors"), tensors);
    return tmp.str(name);
  };

  SUBCASE("truncated file") {
    const std::string dir = write_dir("truncated", state);
    const std::string file = dir + "/model.safetensors";
    fs::resize_file(file, fs::file_size(file) - 100);
    const std::string err = load_error(dir, spec);
    CHECK(contains(err, file));
    CHECK(contains(err, "truncated"));
    fs::resize_file(file, 20);  // cut inside the header
    CHECK(contains(load_error(dir, spec), "header length"));
  }
  SUBCASE("wrong shape") {
    auto bad = state;
    bad[3].second = at::zeros({7, 5});
    const std::string err = load_error(write_dir("shape", bad), spec);
    CHECK(contains(err, bad[3].first));
    CHECK(contains(err, "shape [7, 5]"));
  }
  SUBCASE("missing tensor") {
    auto bad = state;
    const std::string gone = bad[2].first;
    bad.erase(bad.begin() + 2);
    const std::string err = load_error(write_dir("missing", bad), spec);
    CHECK(contains(err, gone));
    CHECK(contains(err, "missing"));
  }
  SUBCASE("unexpected tensor") {
    auto bad = state;
    bad.emplace_back("model.layers.9.mlp.gate_proj.weight", at::zeros({4, 4}));
    const std::string err = load_error(write_dir("unexpected", bad), spec);
    CHECK(contains(err, "model.layers.9.mlp.gate_proj.weight"));
    CHECK(contains(err, "unexpected"));
  }
  SUBCASE("integer dtype") {
    auto bad = state;
    bad[0].second = bad[0].second.to(at::kInt);
    CHECK(contains(load_error(write_dir("dtype", bad), spec), "dtype I32"));
  }
  SUBCASE("config.json disagrees with the model") {
    const std::string dir = write_dir("config", state);
    ModelSpec other = spec;
    other.kv_heads = 4;
    const std::string err = load_error(dir, other);
    CHECK(contains(err, dir + "/config.json"));
    CHECK(contains(err, "kv_heads"));
  }
  SUBCASE("not a checkpoint directory") {
    CHECK(contains(load_error(tmp.str("nowhere"), spec), "checkpoint directory"));
    fs::create_directories(tmp.str("empty"));
    write_config(tmp.str("empty"), spec);
    CHECK(contains(load_error(tmp.str("empty"), spec), "neither model.safetensors"));
  }
}

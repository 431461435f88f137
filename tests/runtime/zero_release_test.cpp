// ZeRO-3's parameter release, checked in one process (one rank: every chunk is the whole
// parameter, so no process group is needed): between uses a layer's parameters hold no storage,
// the storage gathered for forward is really freed (nothing saved for backward keeps it alive), and
// the gradients equal those of the unsharded model.
#include "tests/runtime/torch_doctest.h"

#include "runtime/dist/communicator.h"
#include "runtime/model/transformer.h"
#include "runtime/train/zero_sharding.h"
#include "tests/runtime/test_models.h"

using namespace zplan;

namespace {

// Records a weak reference to every storage a layer's parameters had while gathered for forward.
class WatchingHooks : public rt::ParamGroupHooks {
 public:
  WatchingHooks(rt::ZeroStates& zero, const rt::TransformerModel& model) : zero_(zero), model_(model) {}
  void before_forward(int64_t g) override { zero_.before_forward(g); }
  void after_forward(int64_t g) override {
    for (const auto& p : model_.params())
      if (p.group == g && g < model_.spec().layers)
        gathered.emplace_back(p.tensor.storage().getWeakStorageImpl());
    zero_.after_forward(g);
  }
  void before_backward(int64_t g) override { zero_.before_backward(g); }
  void after_backward(int64_t g) override { zero_.after_backward(g); }
  std::vector<c10::weak_intrusive_ptr<c10::StorageImpl>> gathered;

 private:
  rt::ZeroStates& zero_;
  const rt::TransformerModel& model_;
};

std::vector<at::Tensor> grads(const ModelSpec& spec, bool zero3, int64_t ckpt, size_t* still_alive) {
  at::manual_seed(3);
  rt::BuildOptions opt;
  opt.checkpointed_layers = ckpt;
  rt::TransformerModel model(spec, opt);
  std::vector<at::Tensor> leaves;
  for (const auto& p : model.params()) leaves.push_back(p.tensor);
  rt::LaunchEnv one;  // world size 1
  auto comm = rt::Communicator::connect(one, at::kCPU, 10);
  rt::ZeroStates zero(leaves, model.param_groups(), *comm, zero3 ? 3 : 0, 1000);
  WatchingHooks hooks(zero, model);
  if (zero3) model.set_hooks(&hooks, /*release_params=*/true);
  const at::Tensor ids = at::randint(0, spec.vocab, {2, 16}, at::kLong);
  const at::Tensor targets = at::randint(0, spec.vocab, {2, 16}, at::kLong);
  at::Tensor loss = rt::causal_lm_loss(model.forward(ids), targets);
  if (zero3) {
    for (const auto& p : model.params())
      if (p.group < spec.layers) CHECK(p.tensor.numel() == 0);  // released after forward
    *still_alive = 0;
    for (const auto& w : hooks.gathered) *still_alive += w.expired() ? 0 : 1;
  }
  loss.backward();
  if (zero3) zero.finish_backward(true);
  std::vector<at::Tensor> g;
  for (size_t i = 0; i < leaves.size(); ++i)
    g.push_back(zero3 ? zero.optimizer_tensors()[i].grad().clone() : leaves[i].grad().reshape({-1}).clone());
  return g;
}

}  // namespace

TEST_CASE("zero-3: released layer storage is freed after forward; gradients equal the unsharded ones") {
  for (const ModelSpec& spec : {test::tiny_qwen3(), test::tiny_moe(), test::tiny_llama()}) {
    for (int64_t ckpt : {int64_t{0}, spec.layers}) {
      INFO(spec.name << " ckpt " << ckpt);
      size_t alive = 99, unused = 0;
      const auto sharded = grads(spec, true, ckpt, &alive);
      const auto plain = grads(spec, false, ckpt, &unused);
      CHECK(alive == 0);
      REQUIRE(sharded.size() == plain.size());
      for (size_t i = 0; i < plain.size(); ++i) CHECK(at::allclose(sharded[i], plain[i], 1e-5, 1e-6));
    }
  }
}

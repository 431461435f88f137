// dist_worker: one rank of the CPU distributed tests (dist_test.cpp starts it through the runtime's
// local launcher, which sets torchrun's environment). Trains a tiny model with run_training and
// writes what the test compares: `<out>.rank<R>` holds the per-step losses and every parameter
// after training; this rank's stderr goes to `<out>.rank<R>.err`.
// Usage: dist_worker MODEL ZERO PRECISION MICRO_BATCH GRAD_ACCUM CKPT STEPS TIMEOUT_S OUT [SP [ATTN]]
//   MODEL: qwen3 | llama | gpt2 | moe; PRECISION: fp32 | bf16; SP: Ulysses degree (default 1);
//   ATTN: sdpa | eager (default sdpa; libtorch 1.13 runs eager either way)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "planner/input_error.h"
#include "runtime/dist/launch_env.h"
#include "runtime/run_api.h"
#include "tests/runtime/test_models.h"

using namespace zplan;

int main(int argc, char** argv) {
  if (argc < 10 || argc > 12) {
    std::fprintf(stderr, "usage: dist_worker MODEL ZERO PRECISION MICRO_BATCH GRAD_ACCUM CKPT STEPS TIMEOUT_S OUT [SP [ATTN]]\n");
    return 2;
  }
  const std::string model = argv[1], precision = argv[3], out = argv[9];
  const rt::LaunchEnv env = rt::launch_env_from_environment();
  const std::string base = out + ".rank" + std::to_string(env.rank);
  if (std::freopen((base + ".err").c_str(), "w", stderr) == nullptr) return 2;
  ModelSpec spec = model == "gpt2" ? test::tiny_gpt2() : model == "moe" ? test::tiny_moe()
                 : model == "llama" ? test::tiny_llama() : model == "gemma3" ? test::tiny_gemma3() : test::tiny_qwen3();
  Strategy s;
  s.zero_stage = std::atoi(argv[2]);
  if (!parse_precision(precision, &s.precision)) return 2;  // bf16, fp32, amp-bf16, ...
  s.micro_batch = std::atoi(argv[4]);
  s.grad_accumulation = std::atoi(argv[5]);
  s.checkpointed_layers = std::atoi(argv[6]);
  s.sp_degree = argc > 10 ? std::atoi(argv[10]) : 1;
  TrainingSpec t;
  t.seq_len = 16;
  t.framework = Framework::plain;
  if (argc > 11 && std::string(argv[11]) == "eager") t.attention = Attention::eager;
  t.reduce_bucket_elems = 3000;  // several buckets per layer group even for tiny models
  t.param_persistence_threshold = 100;  // ZeRO-3: norm weights stay whole, matrices are sharded
  RunOptions o;
  o.steps = std::atoi(argv[7]);
  o.comm_timeout_seconds = std::atoi(argv[8]);
  o.device = "cpu";
  o.verbose = true;
  o.seed = 5;
  o.learning_rate = 1e-3;
  o.collect_parameters = true;
  RunResult r;
  try {
    r = run_training(spec, t, s, o);
  } catch (const InputError& e) {
    std::fprintf(stderr, "dist_worker: %s\n", e.what());
    return 2;
  }
  if (!r.error.empty()) return 4;
  std::ofstream f(base);
  f.precision(9);
  f << "world " << r.world_size << " backend " << r.backend << "\nlosses";
  for (double l : r.losses) f << " " << l;
  f << "\nparams " << r.final_parameters.size() << "\n";
  for (float p : r.final_parameters) f << p << "\n";
  return f ? 0 : 2;
}

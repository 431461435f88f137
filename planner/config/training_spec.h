// TrainingSpec (what is trained: tokens, batch, attention kernel, whose code) and Strategy (how
// it is laid out on the cluster: ZeRO stage, offloads, recompute, sequence parallelism, precision).
// Strategy flags on the CLI pin a dimension; unpinned dimensions are searched (planner/search/).
#pragma once
#include <tuple>
#include <cstdint>
#include <string>

namespace zplan {

// bf16/fp16: 16-bit params and grads with fp32 master weights inside the optimizer (DeepSpeed).
// amp_bf16/amp_fp16: fp32 params and grads, 16-bit autocast for matmuls (torch AMP, FSDP2 mixed
// precision). fp32: everything in fp32. bf16_pure: bf16 params, grads and AdamW states with no
// fp32 master (a model loaded with torch_dtype=bfloat16 and a plain optimizer).
enum class Precision { bf16, fp16, fp32, amp_bf16, amp_fp16, bf16_pure };
// Whose implementation is predicted: zplan's own runtime or Hugging Face transformers' modelling code.
enum class Profile { zplan, hf };
enum class Attention { sdpa, flash, eager };
// What the training loop is built on, which decides buffers and allocator behaviour.
enum class Framework { deepspeed, fsdp2, ddp, plain };
// How MoE experts run: transformers 5.x's one grouped matmul over all experts (the default; zplan's
// runtime on a GPU with libtorch >= 2.9 calls the same at::_grouped_mm), transformers' Python loop
// over the experts that were hit (eager), or zplan's runtime's own loop (loop: on CPU, with older
// libtorch, and in every runtime record measured before 2026-12-06) that brings the rows per
// expert to the host once per layer and runs one matmul per expert. The saved tensors of grouped_mm
// and loop are the same; only their time differs.
enum class ExpertsImpl { grouped_mm, eager, loop };
// How zplan's runtime runs a Llama/Qwen-style RMSNorm: PyTorch's fused kernel (at::_fused_rms_norm,
// libtorch >= 2.8 on a CUDA device, when input and weight share a dtype: every recipe but AMP),
// which keeps its input and the fp32 1/rms per row for backward; or transformers' composite
// expression (fp32 upcast, pow, mean, rsqrt, two multiplies), which keeps the fp32 input and the
// normalised tensor. Hugging Face's models always run the composite; so did every runtime record
// measured before 2026-12-06 (a record without the field reads as composite).
enum class NormImpl { fused, composite };
// How zplan's runtime runs AdamW on the fp32 masters of a 16-bit recipe (bf16, fp16): zplan's own
// CUDA kernel (runtime/kernels/mixed_adamw.cu, a GPU build with a CUDA compiler) reads each 16-bit
// gradient and writes the master, both moments and the 16-bit weight in one pass, with no
// temporary; or the upcast path (CPU, builds without the kernel, and every runtime record measured
// before 2026-12-07; a record without the field reads as upcast): each gradient is upcast to an
// fp32 copy one tensor at a time, at::_fused_adamw_ updates the master, which is copied back.
enum class AdamWImpl { fused_master, upcast };
// How zplan's runtime runs SwiGLU (silu(gate) * up in the dense MLPs) and RoPE: zplan's CUDA kernels
// (runtime/kernels/swiglu.cu, rope.cu; a GPU build with a CUDA compiler), one kernel each forward
// and backward, SwiGLU keeping only gate and up for backward; or PyTorch's eager ops as transformers
// writes them (silu, then mul, which keeps silu's output too; rotate_half's neg and cat, two muls
// and an add). RoPE keeps the same tensors either way (the cos/sin tables). Runtime records measured
// before 2026-12-06's third session have no field and read as composite.
enum class ElementwiseImpl { fused, composite };
// How zplan's runtime computes the cross-entropy of the plain loss path (Strategy::loss_chunks <= 1):
// zplan's CUDA kernels (runtime/kernels/cross_entropy.cu; a GPU build with a CUDA compiler) read the
// 16-bit logits once forward, keep them and an fp32 log-sum-exp per token, and write the logits'
// gradient once in backward; or transformers' ForCausalLMLoss (logits.float(), log_softmax, which
// keeps its fp32 output, nll_loss, and two more fp32 [tokens, vocab] tensors in backward). Runtime
// records without the field read as composite.
enum class CrossEntropyImpl { fused, composite };

struct TrainingSpec {
  int64_t seq_len = 0;               // tokens per sequence, before sequence parallelism
  int64_t global_batch = 0;          // sequences per optimizer step; 0 = not constrained
  Attention attention = Attention::sdpa;
  Profile profile = Profile::zplan;
  Framework framework = Framework::deepspeed;
  ExpertsImpl experts = ExpertsImpl::grouped_mm;
  NormImpl norm = NormImpl::fused;   // zplan's runtime only; the hf profile always runs the composite
  AdamWImpl adamw = AdamWImpl::fused_master;  // zplan's runtime only, 16-bit recipes with fp32 masters
  ElementwiseImpl elementwise = ElementwiseImpl::fused;  // zplan's runtime only: SwiGLU and RoPE
  CrossEntropyImpl cross_entropy = CrossEntropyImpl::fused;  // zplan's runtime only, the plain loss path
  bool use_cache = false;            // HF config.use_cache left on while training (a KV cache per layer)
  bool hold_outputs = true;          // the loop keeps `outputs` (and its logits) until the next forward
  // DeepSpeed buffer sizes (elements); defaults are DeepSpeed's own (docs/memory-model.md §2).
  int64_t reduce_bucket_elems = 500'000'000;
  int64_t allgather_bucket_elems = 500'000'000;
  int64_t prefetch_bucket_elems = 50'000'000;
  int64_t param_persistence_threshold = 100'000;
  int64_t max_live_parameters = 1'000'000'000;
  int64_t max_reuse_distance = 1'000'000'000;  // stage3_max_reuse_distance
  int64_t sub_group_size = 1'000'000'000;
  int overlap_comm = -1;             // -1: DeepSpeed default (true for stage 3, else false)
  bool contiguous_gradients = true;
};

struct Strategy {
  int zero_stage = 0;                // 0..3: which model states are divided by the DP degree
  bool offload_optimizer = false;    // fp32 master + Adam states (and the fp32 grads) on host
  bool offload_params = false;       // ZeRO-3 params on host (stage 3 only)
  int64_t checkpointed_layers = 0;   // layers whose activations are recomputed (0..L)
  bool cpu_checkpointing = false;    // checkpointed layer inputs kept in pinned host memory
  int sp_degree = 1;                 // Ulysses sequence-parallel degree
  int64_t loss_chunks = 0;           // lm_head + cross-entropy over this many token chunks (0/1: whole logits)
  int64_t micro_batch = 1;           // sequences per rank per micro-step
  int64_t grad_accumulation = 1;     // micro-steps per optimizer step
  Precision precision = Precision::bf16;

  bool operator==(const Strategy& o) const {
    return std::tie(zero_stage, offload_optimizer, offload_params, checkpointed_layers, cpu_checkpointing, sp_degree,
                    loss_chunks, micro_batch, grad_accumulation, precision) ==
           std::tie(o.zero_stage, o.offload_optimizer, o.offload_params, o.checkpointed_layers, o.cpu_checkpointing,
                    o.sp_degree, o.loss_chunks, o.micro_batch, o.grad_accumulation, o.precision);
  }
  bool operator!=(const Strategy& o) const { return !(*this == o); }
};

const char* to_string(Precision p);
const char* to_string(Profile p);
const char* to_string(Attention a);
const char* to_string(Framework f);
// Parsers return false on an unknown name (callers turn that into an InputError).
bool parse_precision(const std::string& s, Precision* out);
bool parse_profile(const std::string& s, Profile* out);
bool parse_attention(const std::string& s, Attention* out);
bool parse_framework(const std::string& s, Framework* out);
const char* to_string(ExpertsImpl e);
bool parse_experts_impl(const std::string& s, ExpertsImpl* out);
const char* to_string(NormImpl n);
bool parse_norm_impl(const std::string& s, NormImpl* out);
const char* to_string(ElementwiseImpl e);
bool parse_elementwise_impl(const std::string& s, ElementwiseImpl* out);
const char* to_string(CrossEntropyImpl e);
bool parse_cross_entropy_impl(const std::string& s, CrossEntropyImpl* out);
const char* to_string(AdamWImpl a);  // "fused-master" | "upcast"
bool parse_adamw_impl(const std::string& s, AdamWImpl* out);

// Bytes per element of each state are the precision recipe's (planner/memory/precision_recipe.h).
bool has_fp32_master(Precision p);   // bf16/fp16: optimizer keeps an fp32 copy of the weights
bool is_fp16(Precision p);           // needs a loss scaler

}  // namespace zplan

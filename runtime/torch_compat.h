// torch_compat.h: the one place where zplan's runtime bridges libtorch versions. CI builds against
// Debian's libtorch 1.13.1 (CPU only); the GPU machine builds against PyTorch 2.11's libtorch (CUDA).
// Everything that exists in only one of them is guarded here, so the model and trainer code reads
// the same on both:
//   ZPLAN_HAVE_SDPA        at::scaled_dot_product_attention with is_causal/scale/enable_gqa (2.x)
//   ZPLAN_HAVE_FUSED_ADAMW at::_fused_adamw_ (2.x; 1.13 has only a CUDA _fused_adam_ without decoupled decay)
//   ZPLAN_DEVICE_AUTOCAST  at::autocast::set_autocast_enabled/_dtype(device type, ...) (2.4+; 1.13
//                          has per-device set_enabled / set_cpu_enabled and their dtype setters)
//   ZPLAN_HAVE_GROUPED_MM  at::_grouped_mm with autograd (2.9+; CUTLASS kernel for bf16 on sm90/sm100,
//                          a per-group mm loop with a host sync otherwise)
//   ZPLAN_HAVE_FUSED_RMS_NORM at::_fused_rms_norm with its CUDA kernel and autograd (2.9+ here; the
//                          op appeared in 2.8)
//   ZPLAN_RUNTIME_CUDA     set by runtime/CMakeLists.txt when the libtorch found has CUDA (c10_cuda)
// Include this header (not <torch/torch.h>) from runtime translation units: it pulls in only the
// tensor, autograd and custom-function headers, which keeps each TU's compile time near 7 s.
#pragma once

#include <torch/version.h>            // TORCH_VERSION_MAJOR / MINOR
#include <torch/types.h>              // at::Tensor, torch:: factory functions with requires_grad
#include <torch/csrc/autograd/autograd.h>          // torch::autograd::backward / grad
#include <torch/csrc/autograd/custom_function.h>   // torch::autograd::Function (checkpointing)
#include <c10/util/Exception.h>       // c10::OutOfMemoryError
#include <ATen/autocast_mode.h>       // at::autocast (amp-bf16 / amp-fp16)

#if TORCH_VERSION_MAJOR >= 2
#define ZPLAN_HAVE_SDPA 1
#define ZPLAN_HAVE_FUSED_ADAMW 1
#else
#define ZPLAN_HAVE_SDPA 0
#define ZPLAN_HAVE_FUSED_ADAMW 0
#endif

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define ZPLAN_DEVICE_AUTOCAST 1
#else
#define ZPLAN_DEVICE_AUTOCAST 0
#endif

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9)
#define ZPLAN_HAVE_GROUPED_MM 1
#else
#define ZPLAN_HAVE_GROUPED_MM 0
#endif

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9)
#define ZPLAN_HAVE_FUSED_RMS_NORM 1
#else
#define ZPLAN_HAVE_FUSED_RMS_NORM 0
#endif

#ifndef ZPLAN_RUNTIME_CUDA
#define ZPLAN_RUNTIME_CUDA 0
#endif

namespace zplan::compat {

// Causal attention through PyTorch's fused SDPA (flash kernel for bf16/fp16 on Hopper; saves only
// q, k, v, out and the fp32 logsumexp). q: [B, NH, T, HD]; k, v: [B, KV, T, HD]. Only on 2.x.
inline at::Tensor sdpa_causal(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              double scale, double dropout_p) {
#if ZPLAN_HAVE_SDPA
  const bool gqa = q.size(1) != k.size(1);  // HF passes enable_gqa=True when no mask (torch >= 2.5)
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, dropout_p,
                                          /*is_causal=*/true, scale, /*enable_gqa=*/gqa);
#else
  (void)q; (void)k; (void)v; (void)scale; (void)dropout_p;
  TORCH_CHECK(false, "zplan runtime: SDPA needs libtorch >= 2.0; use the eager attention path");
#endif
}

// Attention under an explicit boolean mask (true = attend) of [B, 1, T, T], as transformers'
// sdpa_attention_forward calls it for sliding-window layers: no is_causal, no enable_gqa (k and v
// arrive repeated to NH heads). SDPA turns the mask into a q-dtype bias that its backward keeps.
inline at::Tensor sdpa_masked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              const at::Tensor& mask, double scale, double dropout_p) {
#if ZPLAN_HAVE_SDPA
  return at::scaled_dot_product_attention(q, k, v, mask, dropout_p, /*is_causal=*/false, scale);
#else
  (void)q; (void)k; (void)v; (void)mask; (void)scale; (void)dropout_p;
  TORCH_CHECK(false, "zplan runtime: SDPA needs libtorch >= 2.0; use the eager attention path");
#endif
}

inline bool have_sdpa() { return ZPLAN_HAVE_SDPA != 0; }

// Whether the experts of a CUDA tensor run through at::_grouped_mm, as transformers' grouped_mm
// experts do. On CPU (and with libtorch < 2.9) the runtime keeps its own per-expert loop.
inline bool use_grouped_mm(const at::Device& device) { return ZPLAN_HAVE_GROUPED_MM != 0 && device.is_cuda(); }
inline bool use_grouped_mm(const at::Tensor& input) { return use_grouped_mm(input.device()); }

// out[rows of group g] = input[rows of g] @ mat2[g], groups ending at the int32 offsets `offs`
// (device tensor [E], cumulative): one kernel for all groups, and no host sync on its fast path.
inline at::Tensor grouped_mm(const at::Tensor& input, const at::Tensor& mat2, const at::Tensor& offs) {
#if ZPLAN_HAVE_GROUPED_MM
  return at::_grouped_mm(input, mat2, offs);
#else
  (void)input; (void)mat2; (void)offs;
  TORCH_CHECK(false, "zplan runtime: _grouped_mm needs libtorch >= 2.9; use the per-expert loop");
#endif
}

// Whether RMSNorms on `device` can run through at::_fused_rms_norm (one CUDA kernel forward, one
// backward, saving the input and the fp32 1/rms per row). On CPU and libtorch < 2.9: transformers'
// composite expression (blocks.h rms_norm_hf).
inline bool have_fused_rms_norm(const at::Device& device) { return ZPLAN_HAVE_FUSED_RMS_NORM != 0 && device.is_cuda(); }

// weight * x / rms(x) over the last dimension, in fp32 inside the kernel, output in x's dtype.
inline at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
#if ZPLAN_HAVE_FUSED_RMS_NORM
  return std::get<0>(at::_fused_rms_norm(x, {x.size(-1)}, weight, eps));
#else
  (void)x; (void)weight; (void)eps;
  TORCH_CHECK(false, "zplan runtime: _fused_rms_norm needs libtorch >= 2.9; use the composite RMSNorm");
#endif
}

// torch.autocast's thread-local state for one device type (kCPU or kCUDA).
inline bool autocast_enabled(at::DeviceType d) {
#if ZPLAN_DEVICE_AUTOCAST
  return at::autocast::is_autocast_enabled(d);
#else
  return d == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}
inline at::ScalarType autocast_dtype(at::DeviceType d) {
#if ZPLAN_DEVICE_AUTOCAST
  return at::autocast::get_autocast_dtype(d);
#else
  return d == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}
inline void set_autocast(at::DeviceType d, bool enabled, at::ScalarType dtype) {
#if ZPLAN_DEVICE_AUTOCAST
  at::autocast::set_autocast_dtype(d, dtype);
  at::autocast::set_autocast_enabled(d, enabled);
#else
  if (d == at::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

}  // namespace zplan::compat

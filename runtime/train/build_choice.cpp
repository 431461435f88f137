// build_choice.cpp (see build_choice.h).
#include "runtime/train/build_choice.h"

#include "runtime/model/kernel_tensors.h"

namespace zplan::rt {

at::ScalarType dtype_of(Precision p) {
  switch (p) {
    case Precision::bf16: return at::kBFloat16;
    case Precision::fp16: return at::kHalf;
    default: return at::kFloat;
  }
}

at::ScalarType autocast_dtype_of(Precision p) {
  switch (p) {
    case Precision::amp_bf16: return at::kBFloat16;
    case Precision::amp_fp16: return at::kHalf;
    default: return at::ScalarType::Undefined;
  }
}

BuildOptions build_options_for(const ModelSpec& model, const TrainingSpec& training, const Strategy& strategy,
                               const at::Device& device) {
  BuildOptions build;
  build.dtype = dtype_of(strategy.precision);
  build.device = device;
  build.use_sdpa = training.attention != Attention::eager && compat::have_sdpa();
  build.checkpointed_layers = strategy.checkpointed_layers;
  build.cpu_checkpointing = strategy.cpu_checkpointing;
  build.fused_rms_norm = model.norm == NormKind::rms_norm && training.norm == NormImpl::fused &&
                         compat::have_fused_rms_norm(device) &&
                         autocast_dtype_of(strategy.precision) == at::ScalarType::Undefined;
  const bool kernels = runtime_kernels_available(device);
  build.fused_elementwise = training.elementwise == ElementwiseImpl::fused && kernels;
  build.fused_cross_entropy = training.cross_entropy == CrossEntropyImpl::fused && kernels;
  build.grouped_mm_experts = training.experts != ExpertsImpl::loop && compat::use_grouped_mm(device);
  return build;
}

}  // namespace zplan::rt

namespace zplan {

TrainingSpec with_runnable_kernels(TrainingSpec training) {
  const at::Device device = runtime_has_cuda() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  if (!rt::runtime_kernels_available(device)) {
    training.elementwise = ElementwiseImpl::composite;
    training.cross_entropy = CrossEntropyImpl::composite;
    training.adamw = AdamWImpl::upcast;
  }
  if (!compat::have_fused_rms_norm(device)) training.norm = NormImpl::composite;
  // The runtime has no eager expert loop of its own (transformers' python loop): it runs grouped_mm
  // where the kernel exists and its per-expert loop elsewhere or when asked (--experts loop).
  if (training.experts != ExpertsImpl::loop && !compat::use_grouped_mm(device)) training.experts = ExpertsImpl::loop;
  else if (training.experts == ExpertsImpl::eager) training.experts = ExpertsImpl::grouped_mm;
  return training;
}

}  // namespace zplan

namespace zplan::rt {

void name_implementations(const ModelSpec& model, const BuildOptions& build, RunResult* r) {
  if (model.is_moe()) r->experts_implementation = to_string(build.grouped_mm_experts ? ExpertsImpl::grouped_mm : ExpertsImpl::loop);
  if (model.norm == NormKind::rms_norm)
    r->norm_implementation = to_string(build.fused_rms_norm ? NormImpl::fused : NormImpl::composite);
  r->elementwise_implementation = to_string(build.fused_elementwise ? ElementwiseImpl::fused : ElementwiseImpl::composite);
  r->cross_entropy_implementation =
      to_string(build.fused_cross_entropy ? CrossEntropyImpl::fused : CrossEntropyImpl::composite);
}

}  // namespace zplan::rt

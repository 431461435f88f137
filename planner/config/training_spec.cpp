// Names and byte sizes of the enums in training_spec.h.
#include "planner/config/training_spec.h"

namespace zplan {

const char* to_string(Precision p) {
  switch (p) {
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
    case Precision::fp32: return "fp32";
    case Precision::amp_bf16: return "amp-bf16";
    case Precision::amp_fp16: return "amp-fp16";
    case Precision::bf16_pure: return "bf16-pure";
  }
  return "?";
}
const char* to_string(Profile p) { return p == Profile::hf ? "hf" : "zplan"; }
const char* to_string(Attention a) {
  switch (a) {
    case Attention::sdpa: return "sdpa";
    case Attention::flash: return "flash";
    case Attention::eager: return "eager";
  }
  return "?";
}
const char* to_string(Framework f) {
  switch (f) {
    case Framework::deepspeed: return "deepspeed";
    case Framework::fsdp2: return "fsdp2";
    case Framework::ddp: return "ddp";
    case Framework::plain: return "plain";
  }
  return "?";
}

bool parse_precision(const std::string& s, Precision* out) {
  for (Precision p : {Precision::bf16, Precision::fp16, Precision::fp32, Precision::amp_bf16,
                      Precision::amp_fp16, Precision::bf16_pure})
    if (s == to_string(p)) { *out = p; return true; }
  return false;
}
bool parse_profile(const std::string& s, Profile* out) {
  if (s == "zplan") { *out = Profile::zplan; return true; }
  if (s == "hf") { *out = Profile::hf; return true; }
  return false;
}
bool parse_attention(const std::string& s, Attention* out) {
  for (Attention a : {Attention::sdpa, Attention::flash, Attention::eager})
    if (s == to_string(a)) { *out = a; return true; }
  return false;
}
bool parse_framework(const std::string& s, Framework* out) {
  for (Framework f : {Framework::deepspeed, Framework::fsdp2, Framework::ddp, Framework::plain})
    if (s == to_string(f)) { *out = f; return true; }
  return false;
}

const char* to_string(ExpertsImpl e) {
  return e == ExpertsImpl::eager ? "eager" : e == ExpertsImpl::loop ? "loop" : "grouped_mm";
}
bool parse_experts_impl(const std::string& s, ExpertsImpl* out) {
  if (s == "grouped_mm") { *out = ExpertsImpl::grouped_mm; return true; }
  if (s == "eager") { *out = ExpertsImpl::eager; return true; }
  if (s == "loop") { *out = ExpertsImpl::loop; return true; }
  return false;
}

const char* to_string(NormImpl n) { return n == NormImpl::fused ? "fused" : "composite"; }
bool parse_norm_impl(const std::string& s, NormImpl* out) {
  if (s == "fused") { *out = NormImpl::fused; return true; }
  if (s == "composite") { *out = NormImpl::composite; return true; }
  return false;
}

const char* to_string(ElementwiseImpl e) { return e == ElementwiseImpl::fused ? "fused" : "composite"; }
bool parse_elementwise_impl(const std::string& s, ElementwiseImpl* out) {
  if (s == "fused") { *out = ElementwiseImpl::fused; return true; }
  if (s == "composite") { *out = ElementwiseImpl::composite; return true; }
  return false;
}

const char* to_string(CrossEntropyImpl e) { return e == CrossEntropyImpl::fused ? "fused" : "composite"; }
bool parse_cross_entropy_impl(const std::string& s, CrossEntropyImpl* out) {
  if (s == "fused") { *out = CrossEntropyImpl::fused; return true; }
  if (s == "composite") { *out = CrossEntropyImpl::composite; return true; }
  return false;
}

const char* to_string(AdamWImpl a) { return a == AdamWImpl::fused_master ? "fused-master" : "upcast"; }
bool parse_adamw_impl(const std::string& s, AdamWImpl* out) {
  if (s == "fused-master") { *out = AdamWImpl::fused_master; return true; }
  if (s == "upcast") { *out = AdamWImpl::upcast; return true; }
  return false;
}

bool has_fp32_master(Precision p) { return p == Precision::bf16 || p == Precision::fp16; }
bool is_fp16(Precision p) { return p == Precision::fp16 || p == Precision::amp_fp16; }

}  // namespace zplan

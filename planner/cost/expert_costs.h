// The routed experts of a sparse (MoE) layer in the step-time terms: which implementation runs
// them (ExpertPath) and what one forward of them costs in a Pass: the router, the token
// permutation, the experts' GEMMs by path and their activation. The shared expert is a dense MLP
// (step_terms.cpp). Internal to planner/cost.
#pragma once
#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "planner/cost/pass_costs.h"
#include "planner/memory/exec_context.h"

namespace zplan {

// How MoE experts run. transformers' grouped_mm experts and zplan's runtime on a GPU both call
// torch._grouped_mm: one CUTLASS kernel for all experts when the experts' operands are bf16 on
// compute capability 9.x/10.x (PyTorch 2.9-2.11's fast path), else ATen's fallback, which copies
// the offsets to the host (one sync per call) and runs one matmul per expert. transformers' eager
// experts are a Python loop over the hit experts; zplan's runtime without _grouped_mm brings the
// rows per expert to the host once per layer and runs one matmul per expert.
enum class ExpertPath { grouped, grouped_fallback, python_loop, runtime_loop };

ExpertPath expert_path(const TrainingSpec& training, const ExecContext& c, const GpuSpec& gpu);

// One forward of the routed experts of a sparse layer over `tokens` tokens (per rank and
// micro-step), added to `p` at the rates `r`.
void add_routed_experts(Pass& p, const ModelSpec& m, const ExecContext& c, const Rates& r, const StepMechanisms& k,
                        double tokens, ExpertPath experts);

}  // namespace zplan

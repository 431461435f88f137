// build_choice.h: how a run builds its model from the plan and the device (parameter and autocast
// dtypes, attention, recompute, and which of PyTorch's or zplan's kernels each mechanism uses), and
// the names the run record gives those choices, which the planner reads back (training_spec.h).
#pragma once

#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "runtime/model/transformer.h"
#include "runtime/run_api.h"

namespace zplan::rt {

at::ScalarType dtype_of(Precision p);           // the parameters' dtype (fp32 for the amp recipes)
at::ScalarType autocast_dtype_of(Precision p);  // Undefined: no autocast region

// Each kernel where the plan asks for it and it exists on `device`; AMP keeps the composite norm
// (q/k norms see a 16-bit input and an fp32 weight there), as the planner's ExecContext does.
BuildOptions build_options_for(const ModelSpec& model, const TrainingSpec& training, const Strategy& strategy,
                               const at::Device& device);

// The *_implementation fields of `r` for what `build` runs.
void name_implementations(const ModelSpec& model, const BuildOptions& build, RunResult* r);

}  // namespace zplan::rt

// Step simulation: turns (model, training, strategy, world) into a Timeline of allocations at tensor
// granularity — init, then two optimizer steps of up to two micro-steps each (the first step
// creates lazily initialised optimizer state; the second micro-step starts with gradients already
// allocated) — in the order the framework allocates and frees.
#pragma once
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "planner/memory/exec_context.h"
#include "planner/memory/timeline.h"

namespace zplan {

Timeline build_step_timeline(const ModelSpec& m, const TrainingSpec& training,
                             const Strategy& strategy, const ExecContext& c,
                             TimelineRecording recording = TimelineRecording::named_events);

}  // namespace zplan

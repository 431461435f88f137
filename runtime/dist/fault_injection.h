// fault_injection.h: makes one rank die or hang at a named phase, so that the failure handling of
// the others (communicator.h, local_launcher.h) can be tested on CPU. Set by the environment:
//   ZPLAN_FAULT=kill:<rank>:<phase>   that rank SIGKILLs itself when it enters <phase>
//   ZPLAN_FAULT=hang:<rank>:<phase>   that rank sleeps forever there
// <phase> is a memory_breakdown.h phase name (forward_end, backward_peak, optimizer_step, ...);
// "init" is the moment after the process group is up. Unset: nothing happens.
#pragma once

namespace zplan::rt {

// Called by the trainer as each rank enters a phase.
void inject_fault_if_asked(int rank, const char* phase);

}  // namespace zplan::rt

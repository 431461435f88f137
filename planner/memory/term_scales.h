// TEST-ONLY: multipliers on individual memory-model terms, so that tests/planner/mutation_test.cpp
// can perturb one term (say activations by +3%) and check that the regression guard
// (planner/validation/ratchet.h) notices. Nothing outside tests sets them; the CLI has no flag for
// them, and every multiplier is 1 unless a test changes it for the length of one check.
#pragma once

namespace zplan {

struct TermScales {
  double activations = 1.0;        // Category::activations (saved tensors, checkpoints)
  double logits = 1.0;             // Category::logits (logits, fp32 upcast, loss and its gradients)
  double master_weights = 1.0;     // Category::master_weights (fp32 master copies)
  double cuda_context = 1.0;       // outside the allocator: the CUDA context of the stack
  double communicator = 1.0;       // outside the allocator: NCCL communicator memory
  double deepspeed_buckets = 1.0;  // DeepSpeed's reduce / all-reduce gradient buckets
};

// The process-wide multipliers (all 1 outside tests).
TermScales& test_term_scales();

}  // namespace zplan

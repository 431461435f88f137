// The screened throughput bound of one layout, without the screened space behind it.
//
// The hardware search (planner/search/hardware_search.cpp) bounds a (GPU, count) layout by layout
// with screened_throughput_bound() of screen_layout()'s part, and for most candidates never uses
// the part itself: they are pruned on the bound. screen_layout() bisects the checkpointed-layer
// edge of every batch shape (family); for the bound, a family needs its edge only when one of
// its counts, edge unknown, is faster than the best already found: no count of a family is
// faster than the fastest over all of its counts. The L-layer screens that decide which families
// exist, and where the micro-batches stop, are the same as screen_layout()'s, and so is every
// bisection made, so the bound is the same number (tests/planner/screen_bound_test.cpp checks it).
#pragma once
#include "planner/config/scenario.h"
#include "planner/search/search.h"

namespace zplan {

// Equals screened_throughput_bound() of the part screen_layout(s, options, layout, part) makes.
double screened_layout_bound(const Scenario& s, const SearchOptions& options, Strategy layout);

}  // namespace zplan

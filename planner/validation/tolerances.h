// Accuracy bounds the regression guard holds every measured run to (issue: CI guard). One place,
// stated in docs/validation.md; they only ever tighten.
#pragma once
#include "planner/config/training_spec.h"

namespace zplan {

// Largest allowed |predicted - measured| / measured of peak allocated bytes, per profile.
inline double peak_tolerance(Profile p) { return p == Profile::zplan ? 0.05 : 0.10; }
// Peak reserved (caching allocator) is harder: a looser bound, same for both profiles.
inline double reserved_tolerance(Profile) { return 0.20; }

}  // namespace zplan

// torch_doctest.h: include this instead of <doctest/doctest.h> in tests that use torch. c10's
// logging headers (glog or c10's fallback) define CHECK, CHECK_EQ, ... which would silently replace
// doctest's assertions (a failing check then aborts instead of reporting). Torch first, then drop
// those macros, then doctest.
#pragma once
#include "runtime/torch_compat.h"

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#undef CHECK_NOTNULL
#undef CHECK_FALSE
#include <doctest/doctest.h>

// launch_env.cpp: torchrun's environment contract, read strictly (see launch_env.h).
#include "runtime/dist/launch_env.h"

#include <cstdlib>

#include "planner/input_error.h"

namespace zplan::rt {
namespace {

// The variable as an integer in [lo, hi]; `fallback` when unset.
int int_var(const char* name, int fallback, int lo, int hi) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < lo || n > hi)
    throw InputError(std::string("environment variable ") + name, "",
                     std::string("'") + v + "' is not an integer in " + std::to_string(lo) + ".." +
                         std::to_string(hi));
  return static_cast<int>(n);
}

}  // namespace

LaunchEnv launch_env_from_environment() {
  LaunchEnv e;
  const bool has_rank = std::getenv("RANK") != nullptr, has_world = std::getenv("WORLD_SIZE") != nullptr;
  if (has_rank != has_world)
    throw InputError("environment variables RANK and WORLD_SIZE", "", "set both (a launcher sets both) or neither");
  if (!has_rank) return e;
  e.from_launcher = true;
  e.world_size = int_var("WORLD_SIZE", 1, 1, 1 << 20);
  e.rank = int_var("RANK", 0, 0, e.world_size - 1);
  e.local_world_size = int_var("LOCAL_WORLD_SIZE", e.world_size, 1, e.world_size);
  e.local_rank = int_var("LOCAL_RANK", e.rank % e.local_world_size, 0, e.local_world_size - 1);
  if (const char* a = std::getenv("MASTER_ADDR"); a != nullptr && *a != '\0') e.master_addr = a;
  else if (e.world_size > 1)
    throw InputError("environment variable MASTER_ADDR", "", "must name rank 0's host when WORLD_SIZE > 1");
  e.master_port = int_var("MASTER_PORT", e.master_port, 1, 65535);
  return e;
}

}  // namespace zplan::rt

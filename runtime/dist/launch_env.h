// launch_env.h: where this process sits in a multi-process run, read from the environment that
// torchrun, srun wrappers and zplan's own local launcher set (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT). No torch header: the CLI reads it before it decides
// whether to start the local ranks itself.
#pragma once

#include <string>

namespace zplan::rt {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;                  // picks the CUDA device
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool from_launcher = false;          // RANK and WORLD_SIZE were set by a launcher
};

// Reads the variables; without RANK/WORLD_SIZE it is one rank on its own. Throws InputError naming
// the variable when one is malformed or inconsistent (RANK >= WORLD_SIZE, a port out of range).
LaunchEnv launch_env_from_environment();

}  // namespace zplan::rt

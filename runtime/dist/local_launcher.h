// local_launcher.h: start the ranks of one node as torchrun would (`zplan --run` on a multi-GPU plan
// when no launcher started it, and the CPU tests): fork/exec of a program once per rank with RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set, then wait for all.
// A rank that fails (non-zero exit or a signal) is named on stderr; the others get `grace_seconds`
// to notice (their collectives fail or time out, exit 4) and are killed after that, so nothing is
// left behind; children also die with the launcher (PR_SET_PDEATHSIG). No torch header.
#pragma once

#include <string>
#include <vector>

namespace zplan::rt {

struct LocalLaunch {
  std::string program;                 // executable path
  std::vector<std::string> args;       // argv[1..]
  int ranks = 2;
  int grace_seconds = 60;              // after the first failure, before the others are killed
  std::string master_addr = "127.0.0.1";
  int master_port = 0;                 // 0: a free port on this host
  bool quiet_other_ranks = true;       // stdout of ranks > 0 goes to /dev/null (stderr stays)
  std::vector<std::string> extra_env;  // "NAME=value" added to every rank's environment
};

// 0 when every rank exited 0. Otherwise the first failing rank's exit status, or 4 when it was
// killed by a signal. Throws InputError when a process cannot be started.
int launch_local_ranks(const LocalLaunch& launch);

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back).
int free_tcp_port();

}  // namespace zplan::rt

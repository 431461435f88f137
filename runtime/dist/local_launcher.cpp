// local_launcher.cpp: torchrun's --standalone for one node, in C++ (see local_launcher.h).
#include "runtime/dist/local_launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <thread>

#include "planner/input_error.h"

namespace zplan::rt {

int free_tcp_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 29500;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 29500;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

namespace {

std::string describe(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

int launch_local_ranks(const LocalLaunch& l) {
  const int port = l.master_port > 0 ? l.master_port : free_tcp_port();
  const pid_t launcher = getpid();
  std::vector<pid_t> pids;
  for (int r = 0; r < l.ranks; ++r) {
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) throw InputError("--run", "", "could not fork rank " + std::to_string(r));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // no orphan ranks if the launcher dies
      if (getppid() != launcher) std::_Exit(4);
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(l.ranks).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(l.ranks).c_str(), 1);
      setenv("MASTER_ADDR", l.master_addr.c_str(), 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      for (const std::string& kv : l.extra_env) putenv(strdup(kv.c_str()));
      if (l.quiet_other_ranks && r > 0) {
        const int null_fd = open("/dev/null", O_WRONLY);
        if (null_fd >= 0) dup2(null_fd, STDOUT_FILENO);
      }
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(l.program.c_str()));
      for (const std::string& a : l.args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(l.program.c_str(), argv.data());
      std::fprintf(stderr, "zplan: could not start %s: %s\n", l.program.c_str(), std::strerror(errno));
      std::_Exit(2);
    }
    pids.push_back(pid);
  }

  std::vector<int> status(pids.size(), 0);
  std::vector<bool> done(pids.size(), false);
  int first_failed = -1;
  auto failed_at = std::chrono::steady_clock::now();
  size_t remaining = pids.size();
  while (remaining > 0) {
    bool reaped = false;
    for (size_t r = 0; r < pids.size(); ++r) {
      if (done[r]) continue;
      int st = 0;
      if (waitpid(pids[r], &st, WNOHANG) != pids[r]) continue;
      done[r] = true;
      status[r] = st;
      --remaining;
      reaped = true;
      const bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
      if (!ok && first_failed < 0) {
        first_failed = static_cast<int>(r);
        failed_at = std::chrono::steady_clock::now();
        std::fprintf(stderr, "zplan: rank %zu of %zu (pid %d) %s; the other ranks get %d s to stop\n", r,
                     pids.size(), static_cast<int>(pids[r]), describe(st).c_str(), l.grace_seconds);
      }
    }
    if (remaining == 0) break;
    if (first_failed >= 0 &&
        std::chrono::steady_clock::now() - failed_at > std::chrono::seconds(l.grace_seconds)) {
      for (size_t r = 0; r < pids.size(); ++r) {
        if (done[r]) continue;
        std::fprintf(stderr, "zplan: rank %zu did not stop within %d s after rank %d failed: killing it\n",
                     r, l.grace_seconds, first_failed);
        kill(pids[r], SIGKILL);
        waitpid(pids[r], &status[r], 0);
        done[r] = true;
        --remaining;
      }
      break;
    }
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (first_failed < 0) return 0;
  const int st = status[static_cast<size_t>(first_failed)];
  return WIFEXITED(st) ? WEXITSTATUS(st) : 4;
}

}  // namespace zplan::rt

// interrupt.cpp: SIGINT sets a flag (see interrupt.h).
#include "runtime/train/interrupt.h"

#include <csignal>

namespace zplan::rt {
namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) { g_interrupted = 1; }
}  // namespace

InterruptGuard::InterruptGuard() : previous_(new struct sigaction) {
  g_interrupted = 0;
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // the second Ctrl-C gets the default action: terminate
  sigaction(SIGINT, &action, static_cast<struct sigaction*>(previous_));
}

InterruptGuard::~InterruptGuard() {
  auto* previous = static_cast<struct sigaction*>(previous_);
  sigaction(SIGINT, previous, nullptr);
  delete previous;
}

bool InterruptGuard::requested() { return g_interrupted != 0; }

}  // namespace zplan::rt

// interrupt.h: Ctrl-C during training. While an InterruptGuard lives, the first SIGINT only sets a
// flag that the training loop reads after each optimizer step (it then writes a checkpoint and
// stops); the handler is installed with SA_RESETHAND, so a second Ctrl-C kills the process at once.
#pragma once

namespace zplan::rt {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handler, clears the flag
  ~InterruptGuard();  // restores the previous handler
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  static bool requested();

 private:
  void* previous_;  // struct sigaction, kept opaque so this header needs no <signal.h>
};

}  // namespace zplan::rt

// communicator.cpp: c10d process groups behind Communicator (communicator.h). The backends compiled
// in depend on what this libtorch ships (runtime/CMakeLists.txt sets ZPLAN_HAVE_GLOO when Gloo's
// headers are found, ZPLAN_HAVE_NCCL for a CUDA libtorch with nccl.h); c10d's headers expose each
// backend only under USE_C10D_GLOO / USE_C10D_NCCL, the macros libtorch itself was built with.
#ifndef ZPLAN_HAVE_GLOO
#define ZPLAN_HAVE_GLOO 0
#endif
#ifndef ZPLAN_HAVE_NCCL
#define ZPLAN_HAVE_NCCL 0
#endif
#if ZPLAN_HAVE_GLOO && !defined(USE_C10D_GLOO)
#define USE_C10D_GLOO 1
#endif
#if ZPLAN_HAVE_NCCL && !defined(USE_C10D_NCCL)
#define USE_C10D_NCCL 1
#endif

#include "runtime/dist/communicator.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include "planner/input_error.h"

#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if ZPLAN_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if ZPLAN_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#if ZPLAN_RUNTIME_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace zplan::rt {

#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
#if TORCH_VERSION_MAJOR >= 2
using GroupBase = c10d::Backend;       // 2.x: backends sit under a ProcessGroup facade
#else
using GroupBase = c10d::ProcessGroup;  // 1.13: each backend is a ProcessGroup
#endif
#endif

void exit_rank_failure(int rank, int world_size, const std::string& what, const char* phase,
                       const std::string& cause) {
  std::string first_line = cause.substr(0, cause.find('\n'));  // c10 appends a backtrace
  std::fprintf(stderr,
               "zplan-run: rank %d/%d: %s in phase %s failed: %s (a peer rank died, hung or ran out "
               "of memory)\n",
               rank, world_size, what.c_str(), phase, first_line.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(4);
}

struct Communicator::Impl {
  int rank = 0, world = 1, timeout_seconds = 300;
  bool nccl = false;
  std::atomic<const char*> phase{"init"};
#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<GroupBase> group;
#endif
  // Watchdog: the collective in flight and when it started.
  std::mutex mu;
  std::condition_variable cv;
  const char* in_flight = nullptr;
  std::chrono::steady_clock::time_point started;
  bool stop = false;
  std::thread watchdog;

  void start_watchdog() {
    watchdog = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu);
      while (!stop) {
        cv.wait_for(lock, std::chrono::milliseconds(200));
        if (in_flight == nullptr) continue;
        const auto waited = std::chrono::steady_clock::now() - started;
        if (waited > std::chrono::seconds(timeout_seconds))
          exit_rank_failure(rank, world, in_flight, phase.load(),
                            "not finished after " + std::to_string(timeout_seconds) + " s");
      }
    });
  }
  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
  }

#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
  std::string master_addr;
  // The process group of `size` ranks over `group_store`; starts the watchdog.
  void create_group(const c10::intrusive_ptr<c10d::Store>& group_store, int group_rank, int size) {
    const auto timeout = std::chrono::milliseconds(1000LL * timeout_seconds);
    run("process group creation", [&] {
#if ZPLAN_HAVE_NCCL
      if (nccl) {
        auto o = c10d::ProcessGroupNCCL::Options::create();
        // NCCL's own watchdog a little later than ours, so our message (rank, phase) comes first.
        o->timeout = timeout + std::chrono::seconds(60);
        group = c10::make_intrusive<c10d::ProcessGroupNCCL>(group_store, group_rank, size, o);
        return;
      }
#endif
#if ZPLAN_HAVE_GLOO
      auto o = c10d::ProcessGroupGloo::Options::create(timeout);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname)
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0 || master_addr == "::1")
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      group = c10::make_intrusive<c10d::ProcessGroupGloo>(group_store, group_rank, size, o);
#endif
    });
    start_watchdog();
  }
#endif

  // Runs one collective under the watchdog; any exception ends the process (exit 4).
  void run(const char* what, const std::function<void()>& body) {
    {
      std::lock_guard<std::mutex> lock(mu);
      in_flight = what;
      started = std::chrono::steady_clock::now();
    }
    try {
      body();
#if ZPLAN_RUNTIME_CUDA
      // NCCL's wait() only orders streams; block here so the watchdog sees a hung peer.
      if (nccl) c10::cuda::getCurrentCUDAStream().synchronize();
#endif
    } catch (const c10::Error& e) {
      exit_rank_failure(rank, world, what, phase.load(), e.what_without_backtrace());
    } catch (const std::exception& e) {
      exit_rank_failure(rank, world, what, phase.load(), e.what());
    }
    std::lock_guard<std::mutex> lock(mu);
    in_flight = nullptr;
  }
};

namespace {

// c10d's Work handle (ProcessGroup::Work in 1.13, c10d::Work in 2.x).
template <typename WorkPtr>
void wait(const WorkPtr& w) {
  w->wait();
}

// Gloo sums only standard types: 16-bit floats are summed in fp32 and written back.
bool gloo_sums_natively(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble ||
         t.scalar_type() == at::kLong || t.scalar_type() == at::kInt;
}
// Gloo moves bf16 bits as fp16 (same width; a copy needs no arithmetic).
at::Tensor gloo_bits(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 ? t.view(at::kHalf) : t;
}

}  // namespace

Communicator::Communicator(int rank, int world_size)
    : rank_(rank), world_size_(world_size), impl_(std::make_unique<Impl>()) {
  impl_->rank = rank;
  impl_->world = world_size;
}

Communicator::~Communicator() = default;

std::unique_ptr<Communicator> Communicator::connect(const LaunchEnv& env, at::Device device,
                                                    int timeout_seconds) {
  std::unique_ptr<Communicator> c(new Communicator(env.rank, env.world_size));
  c->impl_->timeout_seconds = timeout_seconds;
  if (env.world_size == 1) return c;
#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
  Impl& im = *c->impl_;
  im.nccl = device.is_cuda();
#if !ZPLAN_HAVE_NCCL
  if (im.nccl)
    throw InputError("--run", "", "this libtorch has no NCCL (c10d ProcessGroupNCCL): cannot train on several GPUs");
#endif
#if !ZPLAN_HAVE_GLOO
  if (!im.nccl)
    throw InputError("--run", "", "this libtorch build has no Gloo headers: cannot train on several CPU ranks");
#endif
  const auto timeout = std::chrono::milliseconds(1000LL * timeout_seconds);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<size_t>(env.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    im.store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    exit_rank_failure(env.rank, env.world_size,
                      "rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port),
                      "init", e.what());
  }
  // Every rank checks in and waits for the others, so a missing rank is named as such.
  try {
    im.store->add("zplan/joined", 1);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int64_t joined = 0;;) {
      joined = im.store->add("zplan/joined", 0);
      if (joined >= env.world_size) break;
      if (std::chrono::steady_clock::now() > deadline)
        exit_rank_failure(env.rank, env.world_size,
                          "rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port), "init",
                          "only " + std::to_string(joined) + " of " + std::to_string(env.world_size) +
                              " ranks joined within " + std::to_string(timeout_seconds) + " s");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } catch (const std::exception& e) {
    exit_rank_failure(env.rank, env.world_size,
                      "rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port),
                      "init", e.what());
  }
  im.master_addr = env.master_addr;
  im.create_group(im.store, env.rank, env.world_size);
#else
  (void)device;
  throw InputError("--run", "", "this runtime was built without c10d process groups (no Gloo headers, "
                                "no NCCL): it trains on one rank only");
#endif
  return c;
}

std::unique_ptr<Communicator> Communicator::split_blocks(int group_size) {
  if (group_size == world_size_ || world_size_ == 1) return nullptr;
  std::unique_ptr<Communicator> c(new Communicator(rank_ % group_size, group_size));
  c->impl_->timeout_seconds = impl_->timeout_seconds;
#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
  Impl& im = *c->impl_;
  im.nccl = impl_->nccl;
  im.master_addr = impl_->master_addr;
  im.phase = impl_->phase.load();
  im.store = impl_->store;
  const std::string prefix = "zplan/group" + std::to_string(rank_ / group_size) + "of" + std::to_string(group_size);
  im.create_group(c10::make_intrusive<c10d::PrefixStore>(prefix, impl_->store), rank_ % group_size, group_size);
#endif
  return c;
}

const char* Communicator::backend() const {
  if (world_size_ == 1) return "none";
  return impl_->nccl ? "nccl" : "gloo";
}

void Communicator::set_phase(const char* phase) { impl_->phase = phase; }

void Communicator::all_reduce_sum(at::Tensor& t) {
  if (world_size_ == 1) return;
#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
  impl_->run("all_reduce", [&] {
    if (impl_->nccl || gloo_sums_natively(t)) {
      std::vector<at::Tensor> v{t};
      wait(impl_->group->allreduce(v));
      return;
    }
    std::vector<at::Tensor> v{t.to(at::kFloat)};
    wait(impl_->group->allreduce(v));
    t.copy_(v[0]);
  });
#endif
}

void Communicator::reduce_scatter_sum(const at::Tensor& in, at::Tensor& out) {
  if (world_size_ == 1) {
    out.copy_(in);
    return;
  }
#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
  impl_->run("reduce_scatter", [&] {
    if (impl_->nccl) {
      wait(impl_->group->_reduce_scatter_base(out, const_cast<at::Tensor&>(in)));
      return;
    }
    // Gloo has no reduce-scatter: sum everything, keep this rank's block (CPU runs only).
    std::vector<at::Tensor> v{in.to(gloo_sums_natively(in) ? in.scalar_type() : at::kFloat,
                                    /*non_blocking=*/false, /*copy=*/true)};
    wait(impl_->group->allreduce(v));
    const int64_t n = out.numel();
    out.copy_(v[0].narrow(0, rank_ * n, n));
  });
#endif
}

void Communicator::all_gather(const at::Tensor& in, at::Tensor& out) {
  if (world_size_ == 1) {
    out.copy_(in);
    return;
  }
#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
  impl_->run("all_gather", [&] {
    if (impl_->nccl) {
      wait(impl_->group->_allgather_base(out, const_cast<at::Tensor&>(in)));
      return;
    }
    const at::Tensor src = gloo_bits(in), dst = gloo_bits(out);
    const int64_t n = src.numel();
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < world_size_; ++r) outputs[0].push_back(dst.narrow(0, r * n, n));
    std::vector<at::Tensor> inputs{src};
    wait(impl_->group->allgather(outputs, inputs));
  });
#endif
}

void Communicator::all_to_all(const at::Tensor& in, at::Tensor& out) {
  if (world_size_ == 1) {
    out.copy_(in);
    return;
  }
#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
  impl_->run("all_to_all", [&] {
    at::Tensor src = impl_->nccl ? in : gloo_bits(in), dst = impl_->nccl ? out : gloo_bits(out);
    std::vector<int64_t> even;  // empty split sizes: equal blocks
    wait(impl_->group->alltoall_base(dst, src, even, even));
  });
#endif
}

void Communicator::barrier() {
  if (world_size_ == 1) return;
#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
  impl_->run("barrier", [&] { wait(impl_->group->barrier()); });
#endif
}

bool Communicator::any(bool mine) {
  if (world_size_ == 1) return mine;
  at::Tensor flag = at::full({1}, mine ? 1.0 : 0.0, at::TensorOptions().dtype(at::kFloat));
  if (impl_->nccl) flag = flag.cuda();  // the current device (the trainer sets LOCAL_RANK's)
  all_reduce_sum(flag);
  return flag.item<double>() > 0.0;
}

void Communicator::abandon() {
#if ZPLAN_HAVE_GLOO || ZPLAN_HAVE_NCCL
  impl_->group.release();
  impl_->store.release();
#endif
  impl_.release();
}

}  // namespace zplan::rt

// Blocking calls (key generation, name resolution) run on a thread of their own while the
// coroutine that needs the result waits on the loop: the loop that pings the watchdog keeps
// serving, and a stop or a deadline ends the wait at once, whether or not the call returns.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/crypto.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace kcd::daemon {

// How a wait for a call off the loop ended.
enum class OffLoopEnd {
  Done,       // the call returned: here is its result
  TimedOut,   // its deadline passed first (the call may still be running; its result is dropped)
  Cancelled,  // cancel() came first (the call was asked to stop)
  Busy,       // too many calls of this kind still running: this one was not started
};

namespace detail {

// Counts the threads of one kind still running; shared with them, so it outlives its owner.
struct OffLoopCount {
  std::mutex mu;
  std::size_t running = 0;
};

// Every thread of every lane, so the process can let them finish before it exits.
struct OffLoopAll {
  std::mutex mu;
  std::condition_variable done;
  std::size_t running = 0;
};
inline OffLoopAll& all_off_loop_threads() {
  static OffLoopAll all;
  return all;
}

// What the waiting coroutine and the thread share.
template <class T>
struct OffLoopShared {
  std::mutex mu;
  std::optional<T> result;
  std::exception_ptr error;
  bool done = false;  // the call returned (result or error)
  std::atomic<bool> stop{false};
  boost::asio::io_context* io = nullptr;
  boost::asio::steady_timer* waiter = nullptr;  // guarded by mu; null once nobody waits
};

}  // namespace detail

// The handle of a wait in progress, for whoever must be able to end it (Agent::stop()).
class OffLoopWait {
 public:
  virtual ~OffLoopWait() = default;
  // Ends the wait now (OffLoopEnd::Cancelled) and asks the call to stop.
  virtual void cancel() = 0;
};

// Calls of one kind (one lane): at most `max_running` threads at once. A call that never
// returns (a resolver that never answers) keeps its thread, and its place, until it does.
class OffLoop {
 public:
  OffLoop(boost::asio::io_context& io, std::size_t max_running)
      : io_(io), max_running_(max_running), count_(std::make_shared<detail::OffLoopCount>()) {}
  // A lane whose count is shared with other OffLoop objects (one per API client, say).
  OffLoop(boost::asio::io_context& io, std::size_t max_running, std::shared_ptr<detail::OffLoopCount> count)
      : io_(io), max_running_(max_running), count_(std::move(count)) {}

  template <class T>
  struct Result {
    OffLoopEnd end = OffLoopEnd::Busy;
    std::optional<T> value;  // set when end == Done
  };

  // Runs `work(stop)` on a new thread; `stop` turns true on cancel() or when the deadline
  // passes (long work polls it and returns early). While it waits, `*handle` is set (when
  // given) so the wait can be cancelled. An exception from `work` is rethrown here.
  // Not a coroutine itself: the thread starts at once, and the wait is the awaitable returned
  // (GCC 12 miscompiles init-captures of coroutine parameters in a coroutine's body).
  template <class T>
  boost::asio::awaitable<Result<T>> call(std::function<T(const std::atomic<bool>& stop)> work,
                                         std::chrono::steady_clock::duration deadline,
                                         OffLoopWait** handle = nullptr) {
    auto shared = start<T>(std::move(work));
    return wait<T>(io_, std::move(shared), deadline, handle);
  }

  // Calls of this lane still running (tests; the supervisor's wait at exit).
  std::size_t running() const {
    std::lock_guard lock(count_->mu);
    return count_->running;
  }

 private:
  // The thread with `work`, or null when the lane is full.
  template <class T>
  std::shared_ptr<detail::OffLoopShared<T>> start(std::function<T(const std::atomic<bool>& stop)> work) {
    {
      std::lock_guard lock(count_->mu);
      if (count_->running >= max_running_) return nullptr;
      ++count_->running;
    }
    {
      auto& all = detail::all_off_loop_threads();
      std::lock_guard lock(all.mu);
      ++all.running;
    }
    auto shared = std::make_shared<detail::OffLoopShared<T>>();
    shared->io = &io_;
    std::thread(
        [](std::shared_ptr<detail::OffLoopShared<T>> state, std::shared_ptr<detail::OffLoopCount> count,
           std::function<T(const std::atomic<bool>&)> fn) {
          std::optional<T> value;
          std::exception_ptr error;
          try {
            value.emplace(fn(state->stop));
          } catch (...) {
            error = std::current_exception();  // rethrown on the loop, as if the call had run there
          }
          {
            std::lock_guard lock(state->mu);
            state->result = std::move(value);
            state->error = error;
            state->done = true;
            if (state->waiter != nullptr) {
              // Woken on the loop's own thread: timers are not thread-safe.
              boost::asio::post(*state->io, [state] {
                std::lock_guard inner(state->mu);
                if (state->waiter != nullptr) state->waiter->cancel();
              });
            }
          }
          // Everything the thread holds is released before it counts itself out: the process
          // may exit as soon as the count is 0 (wait_for_off_loop_calls), and what is freed later
          // would be a leak at exit (an abandoned key, OpenSSL's per-thread random generator).
          state.reset();
          fn = nullptr;
          OPENSSL_thread_stop();
          {
            std::lock_guard lock(count->mu);
            --count->running;
          }
          count.reset();
          auto& all = detail::all_off_loop_threads();
          std::lock_guard lock(all.mu);
          --all.running;
          all.done.notify_all();
        },
        shared, count_, std::move(work))
        .detach();
    return shared;
  }

  // Clears the state's `waiter` however the waiting frame ends (also destroyed unfinished).
  template <class T>
  struct Waiting final : OffLoopWait {
    std::shared_ptr<detail::OffLoopShared<T>> shared;
    OffLoopWait** handle;
    bool cancelled = false;
    Waiting(std::shared_ptr<detail::OffLoopShared<T>> s, OffLoopWait** h) : shared(std::move(s)), handle(h) {
      if (handle != nullptr) *handle = this;
    }
    ~Waiting() override {
      if (handle != nullptr && *handle == this) *handle = nullptr;
      std::lock_guard lock(shared->mu);
      shared->waiter = nullptr;
    }
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;
    void cancel() override {
      cancelled = true;
      shared->stop = true;
      std::lock_guard lock(shared->mu);
      if (shared->waiter != nullptr) shared->waiter->cancel();
    }
  };

  template <class T>
  static boost::asio::awaitable<Result<T>> wait(boost::asio::io_context& io,
                                                std::shared_ptr<detail::OffLoopShared<T>> shared,
                                                std::chrono::steady_clock::duration deadline,
                                                OffLoopWait** handle) {
    if (!shared) co_return Result<T>{};
    boost::asio::steady_timer wake(io);
    wake.expires_after(deadline);
    Waiting<T> waiting(shared, handle);
    bool wait_needed = false;
    {
      std::lock_guard lock(shared->mu);
      if (!shared->done) {
        shared->waiter = &wake;
        wait_needed = true;
      }
    }
    if (wait_needed) {
      boost::system::error_code ec;
      co_await wake.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    Result<T> r;
    std::exception_ptr error;
    {
      std::lock_guard lock(shared->mu);
      shared->waiter = nullptr;
      error = shared->error;
      if (shared->result) {
        r.end = OffLoopEnd::Done;
        r.value = std::move(shared->result);
      } else if (!error) {
        r.end = waiting.cancelled ? OffLoopEnd::Cancelled : OffLoopEnd::TimedOut;
        shared->stop = true;
      }
    }
    if (error) std::rethrow_exception(error);
    co_return r;
  }

  boost::asio::io_context& io_;
  std::size_t max_running_;
  std::shared_ptr<detail::OffLoopCount> count_;
};

// Before the process exits: waits up to `limit` for the calls still running off the loop (a
// cancelled key generation stops within milliseconds); true when none is left. A call that
// never returns (a hung resolver) is left to the end of the process.
inline bool wait_for_off_loop_calls(std::chrono::steady_clock::duration limit) {
  auto& all = detail::all_off_loop_threads();
  std::unique_lock lock(all.mu);
  return all.done.wait_for(lock, limit, [&all] { return all.running == 0; });
}

}  // namespace kcd::daemon

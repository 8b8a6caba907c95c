// Calls off the loop (daemon/off_loop.hpp): the waiting coroutine gets the result, a deadline or
// a cancel ends the wait at once, and a thread that outlives its waiter has released everything
// it holds before the process may exit (wait_for_off_loop_calls).
#include "daemon/off_loop.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <openssl/rand.h>

namespace kcd::daemon {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// A result that counts its live copies (and takes its time to go), so a test sees when the last one is gone.
struct Tracked {
  static inline std::atomic<int> alive{0};
  bool owner = true;
  Tracked() { ++alive; }
  Tracked(Tracked&& o) noexcept : owner(o.owner) { o.owner = false; }
  Tracked& operator=(Tracked&& o) noexcept {
    if (this != &o) {
      if (owner) --alive;
      owner = o.owner;
      o.owner = false;
    }
    return *this;
  }
  ~Tracked() {
    if (!owner) return;
    std::this_thread::sleep_for(20ms);  // a slow free: the exit wait must still come after it
    --alive;
  }
};

template <class T>
OffLoop::Result<T> run_call(asio::io_context& io, OffLoop& lane,
                            std::function<T(const std::atomic<bool>&)> work,
                            std::chrono::milliseconds deadline, OffLoopWait** handle = nullptr) {
  OffLoop::Result<T> out;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { out = co_await lane.call<T>(std::move(work), deadline, handle); },
      asio::detached);
  io.run();
  io.restart();
  return out;
}

TEST(OffLoop, TheResultReachesTheWaiter) {
  asio::io_context io;
  OffLoop lane(io, 1);
  auto r = run_call<int>(
      io, lane, [](const std::atomic<bool>&) { return 42; }, 5s);
  ASSERT_EQ(r.end, OffLoopEnd::Done);
  EXPECT_EQ(*r.value, 42);
  EXPECT_TRUE(wait_for_off_loop_calls(2s));
  EXPECT_EQ(lane.running(), 0u);
}

TEST(OffLoop, ADeadlineEndsTheWaitAndAsksTheCallToStop) {
  asio::io_context io;
  OffLoop lane(io, 1);
  std::atomic<bool> saw_stop{false};
  const auto started = std::chrono::steady_clock::now();
  auto r = run_call<int>(
      io, lane,
      [&](const std::atomic<bool>& stop) {
        while (!stop) std::this_thread::sleep_for(1ms);
        saw_stop = true;
        return 1;
      },
      20ms);
  EXPECT_EQ(r.end, OffLoopEnd::TimedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_TRUE(wait_for_off_loop_calls(2s));
  EXPECT_TRUE(saw_stop);
}

TEST(OffLoop, AFullLaneStartsNothing) {
  asio::io_context io;
  OffLoop lane(io, 1);
  std::atomic<bool> release{false};
  OffLoop::Result<int> first;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        first = co_await lane.call<int>(
            [&](const std::atomic<bool>&) {
              while (!release) std::this_thread::sleep_for(1ms);
              return 1;
            },
            5s);
      },
      asio::detached);
  io.poll();  // the first call runs and waits
  std::optional<OffLoop::Result<int>> second;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        second = co_await lane.call<int>([](const std::atomic<bool>&) { return 2; }, 5s);
      },
      asio::detached);
  io.poll();
  ASSERT_TRUE(second.has_value()) << "a full lane answers at once";
  EXPECT_EQ(second->end, OffLoopEnd::Busy);
  EXPECT_EQ(lane.running(), 1u);
  release = true;
  io.run();
  EXPECT_EQ(first.end, OffLoopEnd::Done);
  EXPECT_TRUE(wait_for_off_loop_calls(2s));
}

// The waiter gave up (the daemon is stopping); the call returns later. By the time the process
// may exit, the thread holds nothing: its result and OpenSSL's per-thread state are freed (LSan
// reported both as leaks when the thread freed them after counting itself out).
TEST(OffLoop, AThreadThatOutlivesItsWaiterHasFreedEverythingWhenTheExitWaitEnds) {
  for (int round = 0; round < 5; ++round) {
    asio::io_context io;
    OffLoop lane(io, 1);
    OffLoopWait* handle = nullptr;
    std::atomic<bool> ran{false};
    OffLoop::Result<Tracked> r;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          r = co_await lane.call<Tracked>(
              [&](const std::atomic<bool>&) {
                unsigned char bytes[16];
                EXPECT_EQ(RAND_priv_bytes(bytes, sizeof bytes), 1);  // OpenSSL's per-thread generator
                std::this_thread::sleep_for(5ms);                    // returns after the cancel
                ran = true;
                return Tracked{};
              },
              5s, &handle);
        },
        asio::detached);
    io.poll();
    ASSERT_NE(handle, nullptr);
    handle->cancel();
    io.run();
    EXPECT_EQ(r.end, OffLoopEnd::Cancelled);
    EXPECT_EQ(handle, nullptr) << "the handle is cleared when the wait ends";
    ASSERT_TRUE(wait_for_off_loop_calls(2s));
    EXPECT_TRUE(ran);
    EXPECT_EQ(Tracked::alive.load(), 0) << "round " << round << ": the abandoned result outlived the count";
  }
}

TEST(OffLoop, AnExceptionFromTheCallIsRethrownToTheWaiter) {
  asio::io_context io;
  OffLoop lane(io, 1);
  bool caught = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await lane.call<int>([](const std::atomic<bool>&) -> int { throw std::runtime_error("boom"); },
                                  5s);
        } catch (const std::runtime_error& e) {
          caught = std::string(e.what()) == "boom";
        }
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(caught);
  EXPECT_TRUE(wait_for_off_loop_calls(2s));
}

}  // namespace
}  // namespace kcd::daemon

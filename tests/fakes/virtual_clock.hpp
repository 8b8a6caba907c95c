// A clock for agent tests that moves only when the agent sleeps or the test moves it, so a
// test covers hours of deadlines, backoffs and watch timeouts without waiting.
#pragma once

#include "daemon/agent_effects.hpp"

#include <chrono>

namespace kcd::testing {

class VirtualClock final : public daemon::Clock {
 public:
  explicit VirtualClock(daemon::SysTime start = std::chrono::system_clock::now()) : now_(start) {}
  daemon::SysTime now() const override { return now_; }
  // The agent's sleep: the time moves forward at once and its timer waits for nothing.
  std::chrono::steady_clock::duration pass(std::chrono::system_clock::duration span) override {
    now_ += span;
    return {};
  }
  void advance(std::chrono::system_clock::duration span) { now_ += span; }

 private:
  daemon::SysTime now_;
};

}  // namespace kcd::testing

// Tells the loop when the wall clock jumped (settimeofday, an NTP step, a resume from suspend),
// so sleeps towards wall-clock deadlines are re-checked then instead of waking every minute to
// look: a CLOCK_REALTIME timerfd armed with TFD_TIMER_CANCEL_ON_SET, whose read fails with
// ECANCELED on every such jump (the kernel treats a resume like a clock set).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <functional>

namespace kcd::daemon {

class ClockWatch {
 public:
  // `changed` runs on the loop after each jump.
  ClockWatch(boost::asio::io_context& io, std::function<void()> changed);
  ~ClockWatch();
  ClockWatch(const ClockWatch&) = delete;
  ClockWatch& operator=(const ClockWatch&) = delete;

  // False when the kernel gave no such timer (the agent then keeps waking every minute).
  bool active() const { return active_; }
  // Stops watching (the loop can end).
  void close();

 private:
  bool arm();
  void wait();

  boost::asio::posix::stream_descriptor fd_;
  std::function<void()> changed_;
  bool active_ = false;
};

}  // namespace kcd::daemon

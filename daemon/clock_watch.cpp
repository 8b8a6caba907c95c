#include "daemon/clock_watch.hpp"

#include "systemd/log.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace kcd::daemon {

ClockWatch::ClockWatch(boost::asio::io_context& io, std::function<void()> changed)
    : fd_(io), changed_(std::move(changed)) {
  const int fd = ::timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return;
  fd_.assign(fd);
  active_ = arm();
  if (active_) {
    wait();
  } else {
    close();
  }
}

ClockWatch::~ClockWatch() {
  close();
}

void ClockWatch::close() {
  boost::system::error_code ignored;
  fd_.close(ignored);
}

// An expiry far beyond any deadline (2100-01-01): the timer never fires, it only gets cancelled.
bool ClockWatch::arm() {
  itimerspec spec{};
  spec.it_value.tv_sec = 4102444800;
  return ::timerfd_settime(fd_.native_handle(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec,
                           nullptr) == 0;
}

void ClockWatch::wait() {
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
    if (ec) return;  // closed
    std::uint64_t expirations = 0;
    const ssize_t n = ::read(fd_.native_handle(), &expirations, sizeof expirations);
    if (n < 0 && errno == ECANCELED) {
      log::info("wall clock changed, deadlines re-checked");
      if (!arm()) {
        active_ = false;
        close();
      }
      if (changed_) changed_();
    }
    if (fd_.is_open()) wait();
  });
}

}  // namespace kcd::daemon

// The clock watch: armed on this kernel (a CLOCK_REALTIME timerfd with cancel-on-set), silent
// while the clock does not jump, and closed without keeping the loop alive. (A jump itself needs
// CAP_SYS_TIME on the test machine's clock: not done here.)
#include "daemon/clock_watch.hpp"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

namespace kcd::daemon {
namespace {

TEST(ClockWatch, IsArmedAndSilentWithoutAJumpAndItsCloseEndsTheLoop) {
  boost::asio::io_context io;
  int changes = 0;
  ClockWatch watch(io, [&] { ++changes; });
  EXPECT_TRUE(watch.active());
  // One pass of the loop: nothing is reported, and the pending wait ends with close().
  boost::asio::post(io, [&] { watch.close(); });
  io.run();
  EXPECT_EQ(changes, 0);
}

}  // namespace
}  // namespace kcd::daemon

// The daemon's listeners under a flood of idle local connections (issue 10, class 8): the
// control socket and the metrics endpoint keep at most their cap of connections, still answer a
// real client, and a stop is never held up by a connection that never sends anything.
#include "daemon/control.hpp"
#include "daemon/listener.hpp"
#include "daemon/metrics.hpp"
#include "tests/support/local_clients.hpp"
#include "tests/support/subprocess.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace kcd::daemon {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using testing::http_get;
using testing::IdleClients;

// A loop run by a thread of its own; `on_loop` runs a function there and waits for it.
class Loop {
 public:
  Loop() : thread_([this] { io.run(); }) {}
  ~Loop() {
    guard_.reset();
    io.stop();
    thread_.join();
  }
  template <class F>
  auto on_loop(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    return result.get();
  }
  asio::io_context io;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io);
  std::thread thread_;
};

TEST(Listeners, TheControlSocketAnswersThroughAFloodOfIdleConnectionsAndHoldsAtMostItsCap) {
  testing::TempDir dir;
  Loop loop;
  int answered = 0;
  auto server = loop.on_loop([&] {
    return ControlServer::open(loop.io, dir.path(), [&](const ControlRequest&) -> ControlReply {
      ++answered;
      StatusReply reply;
      reply.pid = 4242;
      return reply;
    });
  });
  ASSERT_TRUE(server) << server.error().format();
  IdleClients flood;
  ASSERT_TRUE(flood.unix_socket(dir.path() / kControlSocketName, 1000)) << flood.error();
  auto status = request_status(dir.path());
  ASSERT_TRUE(status) << status.error().format();
  EXPECT_TRUE(status->has_value()) << "a real client is answered through the flood";
  // The oldest idle connections were closed to make room: at most the cap stays open.
  EXPECT_GE(flood.closed_by_peer(), flood.size() - kControlLimits.max_connections);
  loop.on_loop([&] {
    (*server)->close();
    return 0;
  });
}

TEST(Listeners, TheMetricsEndpointAnswersThroughAFloodOfIdleConnectionsAndHoldsAtMostItsCap) {
  Loop loop;
  auto server = loop.on_loop([&] {
    return MetricsServer::listen(loop.io, config::ListenAddress{"127.0.0.1", 0}, [] { return "up 1\n"; });
  });
  ASSERT_TRUE(server) << server.error().format();
  const unsigned short port = (*server)->port();
  IdleClients flood;
  ASSERT_TRUE(flood.tcp(port, 1000)) << flood.error();
  const std::string res = http_get(port, "/metrics");
  EXPECT_EQ(res.rfind("HTTP/1.1 200 OK", 0), 0u) << res;
  EXPECT_NE(res.find("up 1"), std::string::npos);
  EXPECT_GE(flood.closed_by_peer(), flood.size() - kMetricsLimits.max_connections);
  loop.on_loop([&] {
    (*server)->close();
    return 0;
  });
}

// Before, a connection that never sent its request kept io_context::run() busy forever: the
// daemon ignored SIGTERM for as long as a local user held one open.
TEST(Listeners, ClosingAListenerClosesItsIdleConnectionsSoTheLoopCanEnd) {
  testing::TempDir dir;
  asio::io_context io;
  auto control = ControlServer::open(io, dir.path(),
                                     [](const ControlRequest&) -> ControlReply { return StatusReply{}; });
  ASSERT_TRUE(control);
  auto metrics = MetricsServer::listen(io, config::ListenAddress{"127.0.0.1", 0}, [] { return ""; });
  ASSERT_TRUE(metrics);
  IdleClients idle;
  ASSERT_TRUE(idle.unix_socket(dir.path() / kControlSocketName, 3));
  ASSERT_TRUE(idle.tcp((*metrics)->port(), 3));
  // Let the loop accept them.
  for (int i = 0; i < 100 && io.poll() > 0;) ++i;
  (*control)->close();
  (*metrics)->close();
  std::thread run([&] { io.run(); });
  const auto ended = std::async(std::launch::async, [&] { run.join(); });
  EXPECT_EQ(ended.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "the loop still had work after both listeners were closed";
  if (ended.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.stop();
  EXPECT_EQ(idle.closed_by_peer(std::chrono::milliseconds(0)), idle.size());
}

TEST(Listeners, OutOfResourcesIsTheDescriptorAndMemoryShortageOnly) {
  using boost::system::error_code;
  using boost::system::system_category;
  for (int e : {EMFILE, ENFILE, ENOBUFS, ENOMEM})
    EXPECT_TRUE(out_of_resources(error_code(e, system_category())));
  for (int e : {ECONNABORTED, EINTR, EAGAIN, EPROTO})
    EXPECT_FALSE(out_of_resources(error_code(e, system_category())));
}

}  // namespace
}  // namespace kcd::daemon

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
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
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

using local = asio::local::stream_protocol;

// A connected pair: the server's end for the table, the client's end to watch.
std::pair<local::socket, local::socket> socket_pair(asio::io_context& io) {
  local::socket server(io), client(io);
  asio::local::connect_pair(server, client);
  return {std::move(server), std::move(client)};
}

bool closed_by_server(local::socket& client) {
  char c;
  boost::system::error_code ec;
  client.non_blocking(true);
  return client.read_some(asio::buffer(&c, 1), ec) == 0 && ec == asio::error::eof;
}

TEST(Listeners, AtTheCapTheOldestIdleConnectionMakesRoomAndBusyOnesAreKept) {
  asio::io_context io;
  ConnectionTable<local::socket> table(
      ListenerLimits{2, std::chrono::seconds(60), std::chrono::milliseconds(1)});
  auto [s1, c1] = socket_pair(io);
  auto [s2, c2] = socket_pair(io);
  auto [s3, c3] = socket_pair(io);
  auto [s4, c4] = socket_pair(io);
  auto first = table.admit(std::move(s1));
  auto second = table.admit(std::move(s2));
  second->answering = true;
  ASSERT_NE(table.admit(std::move(s3)), nullptr);
  EXPECT_TRUE(closed_by_server(c1)) << "the oldest idle one made room";
  EXPECT_FALSE(closed_by_server(c2)) << "a connection being answered is never evicted";
  EXPECT_EQ(table.size(), 2u);
  table.close_oldest_idle();  // the third one: now every connection is busy
  auto busy = table.admit(std::move(s4));
  ASSERT_NE(busy, nullptr);
  busy->answering = true;
  auto [s5, c5] = socket_pair(io);
  EXPECT_EQ(table.admit(std::move(s5)), nullptr) << "every connection busy: the newcomer is refused";
  EXPECT_TRUE(closed_by_server(c5));
  table.close_all();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_TRUE(closed_by_server(c2));
}

TEST(Listeners, AConnectionStillOpenAtItsDeadlineIsClosed) {
  asio::io_context io;
  ConnectionTable<local::socket> table(
      ListenerLimits{4, std::chrono::milliseconds(20), std::chrono::milliseconds(1)});
  auto [server, client] = socket_pair(io);
  auto c = table.admit(std::move(server));
  io.run();  // until the deadline fired: nothing else is pending
  EXPECT_FALSE(c->socket.is_open());
  EXPECT_TRUE(closed_by_server(client));
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

// Wall-clock deadlines: the agent in-process with a clock the test moves. A jump forward past
// the rotation deadline (suspend, NTP step) is noticed within one sleep chunk, not after the
// monotonic time the sleep was planned with.
#include "daemon/agent.hpp"
#include "systemd/log.hpp"
#include "tests/integration/harness.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <atomic>

namespace kcd::testing {
namespace {

// The system clock plus an offset the test moves.
class JumpingClock final : public daemon::Clock {
 public:
  daemon::SysTime now() const override { return std::chrono::system_clock::now() + std::chrono::seconds(offset_s.load()); }
  std::chrono::steady_clock::duration pass(std::chrono::system_clock::duration span) override {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(span) + std::chrono::milliseconds(1);
  }
  std::atomic<long long> offset_s{0};
};

TEST_F(AgentHarness, ClockJumpPastTheDeadlineRotatesWithinASleepChunk) {
  server_->stop();
  devapi::Options opts;
  opts.signing_duration = 1h;
  start_devapi(opts);
  log::init(log::Target::Console, "warn");

  config::Settings settings;
  settings.node_name = "worker-1";
  settings.bootstrap_kubeconfig = server_->bootstrap_kubeconfig_path();
  settings.kubeconfig = kubeconfig();
  settings.cert_dir = cert_dir();
  settings.serving = false;

  daemon::Tuning tuning;
  tuning.max_sleep_chunk = std::chrono::seconds(1);
  auto clock = std::make_shared<JumpingClock>();

  boost::asio::io_context io;
  auto effects = daemon::production_effects(io, tuning.request_timeout);
  effects.clock = clock;
  daemon::Agent agent(io, settings, tuning, {}, std::move(effects));
  boost::asio::co_spawn(io, agent.run(rotation::CertKind::Client), boost::asio::detached);
  std::thread loop([&] { io.run(); });

  ASSERT_TRUE(eventually([&] { return current().has_value(); }, 10s));
  const auto first = current();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(server_->csrs_created(), 1) << "nothing is due for ~45 minutes";

  // The wall clock jumps 55 minutes ahead (past 90 % of a 65-minute lifetime).
  clock->offset_s = 55 * 60;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return current() && current()->sha256_fingerprint != first->sha256_fingerprint; }, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(server_->csrs_created(), 2);

  boost::asio::post(io, [&] { agent.stop(); });
  loop.join();
}

}  // namespace
}  // namespace kcd::testing

// The fleet's promises, checked on 1,000 simulated nodes running the production Lifecycle.
#include "tests/fleetsim/scenarios.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kcd::fleetsim {
namespace {

using namespace std::chrono_literals;

constexpr int kNodes = 1000;
constexpr std::uint64_t kSeed = 1;

FleetConfig fleet(std::string_view name) {
  auto config = scenario(name, kNodes, kSeed);
  if (!config) throw std::invalid_argument("no scenario " + std::string(name));
  return *config;
}

// The promise: rotations spread so that the peak rate is N / (0.2 × lifetime), N certificates.
double peak_over_promised_rate(const FleetReport& r) {
  const double certificates = 2.0 * r.config.nodes;
  const double promised =
      certificates / (0.2 * std::chrono::duration<double, std::ratio<60>>(r.config.lifetime).count());
  return r.peak_rotation_rate_per_minute.value_or(0) / promised;
}

TEST(FleetPromise, RotationsOfAFleetIssuedTogetherPeakWithinTenPercentOfTheEvenRate) {
  FleetConfig c = fleet("steady-24h");
  c.duration = 48h;  // the first rotation window and the start of the second
  const FleetReport r = simulate(c);
  ASSERT_TRUE(r.peak_rotation_rate_per_minute);
  EXPECT_GT(r.csrs_created, 2 * kNodes);
  EXPECT_NEAR(peak_over_promised_rate(r), 1.0, 0.10)
      << "peak " << *r.peak_rotation_rate_per_minute << " rotations/min";
}

// The spread check is not vacuous: a fleet whose deadlines are not spread, or spread wider than
// promised, falls outside it.
TEST(FleetPromise, SpreadCheckRejectsClusteredAndOverlyWideRotations) {
  FleetConfig clustered = fleet("steady-24h");
  clustered.duration = 48h;
  clustered.policy.window = {0.8, 0.81};
  EXPECT_GT(peak_over_promised_rate(simulate(clustered)), 1.5);
  FleetConfig wide = clustered;
  wide.policy.window = {0.5, 0.9};
  EXPECT_LT(peak_over_promised_rate(simulate(wide)), 0.9);
}

// After a 10-minute outage the retry peak stays at or below 2x the steady state per minute.
// Held up rotations whose certificate has time left retry over 10 % of that time (at most an
// hour: rotation/backoff's spread), so the backlog drains over longer than the outage lasted.
// At 1,000 nodes a one-minute count is 2x its mean by chance alone, so the peak is compared with
// the same statistic of the hour before (its busiest minute); at 10,000 nodes, where chance
// matters less, with the mean minute as well. Before the spread: 2.1x and 4.2x (1,000 nodes),
// 5.3x (10,000 nodes).
TEST(FleetPromise, RetryPeakAfterTenMinuteOutageAtMostTwiceTheSteadyState) {
  const FleetReport r = simulate(fleet("outage-10m"));
  ASSERT_TRUE(r.steady_peak_requests_per_minute && r.retry_peak_requests_per_minute);
  EXPECT_LE(*r.retry_peak_requests_per_minute, 2 * *r.steady_peak_requests_per_minute)
      << "retry peak " << *r.retry_peak_requests_per_minute << ", steady peak "
      << *r.steady_peak_requests_per_minute;
  auto big = scenario("outage-10m", 10 * kNodes, kSeed);
  ASSERT_TRUE(big);
  const FleetReport b = simulate(*big);
  ASSERT_TRUE(b.steady_requests_per_minute && b.retry_peak_requests_per_minute);
  EXPECT_LE(*b.retry_peak_requests_per_minute, 2 * *b.steady_requests_per_minute)
      << "retry peak " << *b.retry_peak_requests_per_minute << ", steady " << *b.steady_requests_per_minute;
}

// What the production backoff does promise: every rotation held up by the outage is installed
// within the spread (or the backoff cap) plus a minute for approval, signing and the watch.
TEST(FleetPromise, RotationsHeldUpByATenMinuteOutageFinishWithinTheBackoffCap) {
  const FleetConfig c = fleet("outage-10m");
  const FleetReport r = simulate(c);
  EXPECT_GT(r.disturbed_certificates, kNodes / 50);
  EXPECT_GT(r.refused, 0);
  ASSERT_TRUE(r.recovery_after_disturbance);
  // The spread: at most 10 % of what is left of the certificate (less than 30 % of its lifetime
  // at its deadline), and never more than max_spread.
  const auto spread = std::min(std::chrono::duration_cast<Seconds>(c.policy.backoff.max_spread),
                               Seconds(static_cast<Seconds::rep>(c.policy.backoff.spread_fraction * 0.3 *
                                                                 static_cast<double>(c.lifetime.count()))));
  EXPECT_LE(*r.recovery_after_disturbance,
            std::max(spread, std::chrono::duration_cast<Seconds>(c.policy.backoff.cap)) + 60s);
}

class FleetScenario : public testing::TestWithParam<std::string_view> {};

TEST_P(FleetScenario, NeverMoreThanTwoCsrsPerNodeAndNoExpiryWhileTheApiServerIsUp) {
  FleetConfig c = fleet(GetParam());
  if (c.lifetime == 24h && !c.disturbance) c.duration = 30 * 24h;  // 37 rotations per certificate
  const FleetReport r = simulate(c);
  EXPECT_GE(r.installs, 2 * kNodes);
  EXPECT_LE(r.max_stored_csrs_per_node, 2);
  EXPECT_EQ(r.expired_with_api_server_up, 0) << r.expired.size() << " certificates expired";
}

std::string test_name(const testing::TestParamInfo<std::string_view>& info) {
  std::string name(info.param);
  for (char& ch : name) ch = ch == '-' ? '_' : ch;
  return name;
}

INSTANTIATE_TEST_SUITE_P(All, FleetScenario, testing::ValuesIn(scenario_names()), test_name);

// The expiry check is not vacuous: a 6-hour outage in the middle of the first rotation window
// of 24-hour certificates expires every certificate whose deadline fell in it, and the report
// says the API server was down within the day before each of those expiries.
TEST(FleetPromise, ExpiryCheckSeesCertificatesExpiredDuringALongOutage) {
  const FleetReport r = simulate(fleet("outage-6h"));
  EXPECT_GT(r.expired.size(), static_cast<std::size_t>(kNodes / 2));
  EXPECT_EQ(r.expired_with_api_server_up, 0);
  for (const ExpiredCertificate& e : r.expired)
    ASSERT_TRUE(e.renewed_at) << "node " << e.node << " never renewed";
}

}  // namespace
}  // namespace kcd::fleetsim

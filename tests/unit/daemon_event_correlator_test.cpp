// client-go's EventCorrelator as the agent applies it to Events about its Node: repeats within
// 10 minutes become a patch of the first Event with its count, a token bucket (burst 25, one
// token per 5 minutes) drops the rest. Pure: the time is passed in.
#include "daemon/event_correlator.hpp"

#include <gtest/gtest.h>

namespace kcd::daemon {
namespace {

using namespace std::chrono_literals;
using Kind = EventAction::Kind;

const EventCorrelator::Time kT0 = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 20000);

NodeEvent rotated(const std::string& message = "kubelet client certificate rotated") {
  return NodeEvent{"Normal", "CertificateRotated", message, "client"};
}

TEST(EventCorrelator, TheFirstEventIsACreateAboutTheNode) {
  EventCorrelator c("n1");
  const EventAction a = c.correlate(rotated(), kT0);
  ASSERT_EQ(a.kind, Kind::Create);
  EXPECT_EQ(a.record.namespace_, "default");
  EXPECT_EQ(a.record.involved.kind, "Node");
  EXPECT_EQ(a.record.involved.name, "n1");
  EXPECT_EQ(a.record.involved.uid, "n1");
  EXPECT_EQ(a.record.component, "kubelet-certd");
  EXPECT_EQ(a.record.host, "n1");
  EXPECT_EQ(a.record.name, api::event_name("n1", kT0));
  EXPECT_EQ(a.record.count, 1);
  EXPECT_EQ(a.record.first, kT0);
  EXPECT_EQ(a.record.last, kT0);
}

TEST(EventCorrelator, RepeatsWithinTenMinutesOfThePreviousOnePatchTheFirstEvent) {
  EventCorrelator c("n1");
  const EventAction first = c.correlate(rotated("one"), kT0);
  const EventAction second = c.correlate(rotated("two"), kT0 + 9min);
  const EventAction third = c.correlate(rotated("three"), kT0 + 18min);  // 9 min after the second
  ASSERT_EQ(second.kind, Kind::Patch);
  ASSERT_EQ(third.kind, Kind::Patch);
  EXPECT_EQ(third.record.name, first.record.name);
  EXPECT_EQ(second.record.count, 2);
  EXPECT_EQ(third.record.count, 3);
  EXPECT_EQ(third.record.first, kT0);
  EXPECT_EQ(third.record.last, kT0 + 18min);
  EXPECT_EQ(third.record.message, "three");
  const EventAction later = c.correlate(rotated("four"), kT0 + 18min + 10min + 1s);
  EXPECT_EQ(later.kind, Kind::Create);
  EXPECT_EQ(later.record.count, 1);
  EXPECT_NE(later.record.name, first.record.name);
}

TEST(EventCorrelator, ADifferentReasonTypeOrKeyIsAnotherEvent) {
  EventCorrelator c("n1");
  const auto first = c.correlate(rotated(), kT0);
  for (const NodeEvent& e : {NodeEvent{"Normal", "CertificateRotated", "m", "serving"},
                             NodeEvent{"Warning", "CertificateRotated", "m", "client"},
                             NodeEvent{"Warning", "CertificateRejected", "m", "client"}}) {
    const auto a = c.correlate(e, kT0);
    EXPECT_EQ(a.kind, Kind::Create) << e.reason << " " << e.key;
    EXPECT_NE(a.record.name, first.record.name) << "names stay distinct while the clock stands still";
  }
}

TEST(EventCorrelator, ABurstOf25ThenOneTokenEveryFiveMinutes) {
  EventCorrelator c("n1");
  int sent = 0;
  for (int i = 0; i < 40; ++i) sent += c.correlate(rotated(), kT0).kind != Kind::Drop;
  EXPECT_EQ(sent, 25) << "patches cost a token too, as client-go filters before correlating";
  EXPECT_EQ(c.correlate(rotated(), kT0 + 4min).kind, Kind::Drop);
  EXPECT_EQ(c.correlate(rotated(), kT0 + 5min).kind, Kind::Patch);
  EXPECT_EQ(c.correlate(rotated(), kT0 + 5min).kind, Kind::Drop);
  // Never more than the burst, however long it was quiet.
  sent = 0;
  for (int i = 0; i < 40; ++i) sent += c.correlate(rotated(), kT0 + 1000h).kind != Kind::Drop;
  EXPECT_EQ(sent, 25);
}

TEST(EventCorrelator, AForgottenEventIsCreatedAgain) {
  EventCorrelator c("n1");
  const auto first = c.correlate(rotated(), kT0);
  c.forget(first.record.name);  // its create failed
  const auto again = c.correlate(rotated(), kT0 + 1min);
  EXPECT_EQ(again.kind, Kind::Create);
  EXPECT_EQ(again.record.count, 1);
}

}  // namespace
}  // namespace kcd::daemon

// The one retry policy: capped exponential growth, full jitter, floor, Retry-After.
#include "rotation/backoff.hpp"
#include "rotation/deadline.hpp"

#include <gtest/gtest.h>

namespace kcd::rotation {
namespace {

using namespace std::chrono_literals;

BackoffPolicy policy() {
  BackoffPolicy p;
  p.initial = 1s;
  p.cap = 16s;
  p.floor = 200ms;
  p.max_retry_after = 10min;
  return p;
}

TEST(RotationBackoff, CeilingDoublesUpToTheCap) {
  Backoff b(policy(), [] { return 0.999999; });
  std::vector<long> got;
  for (int i = 0; i < 8; ++i) got.push_back((b.next() + 1ms).count() / 1000);
  EXPECT_EQ(got, (std::vector<long>{1, 2, 4, 8, 16, 16, 16, 16}));
}

TEST(RotationBackoff, FullJitterDrawsFromZeroToTheCeiling) {
  double u = 0.25;
  Backoff b(policy(), [&u] { return u; });
  b.next();
  b.next();
  EXPECT_EQ(b.next(), 1000ms);  // ceiling 4 s * 0.25
}

TEST(RotationBackoff, AMinimumCeilingSpreadsEvenTheFirstRetryBeyondTheCap) {
  double u = 0.5;
  Backoff b(policy(), [&u] { return u; });
  EXPECT_EQ(b.next(std::nullopt, 10min), 5min);  // half of the 10 min spread, past the 16 s cap
  EXPECT_EQ(b.next(std::nullopt, 0ms), 1000ms);  // without it: the exponential ceiling (2 s) * 0.5
}

TEST(RotationBackoff, FloorPreventsTightLoops) {
  Backoff b(policy(), [] { return 0.0; });
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.next(), 200ms);
}

TEST(RotationBackoff, RetryAfterIsAMinimumAndIsBounded) {
  Backoff b(policy(), [] { return 0.0; });
  EXPECT_EQ(b.next(30s), 30s);
  EXPECT_EQ(b.next(24h), 10min);
}

TEST(RotationBackoff, ResetStartsOver) {
  Backoff b(policy(), [] { return 0.999999; });
  b.next();
  b.next();
  b.next();
  b.reset();
  EXPECT_EQ(b.attempts(), 0);
  EXPECT_LE(b.next(), 1s);
}

TEST(RotationBackoff, SystemSourceStaysInTheUnitInterval) {
  auto u = system_uniform01();
  for (int i = 0; i < 1000; ++i) {
    double x = u();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
  }
}

const SysTime kNb = std::chrono::sys_days{std::chrono::year{2026} / 1 / 1};

TEST(RotationDeadline, IsInsideTheWindowOfTheLifetime) {
  const SysTime na = kNb + 1000h;
  EXPECT_EQ(draw_rotation_deadline(kNb, na, {}, [] { return 0.0; }), kNb + 700h);
  EXPECT_EQ(draw_rotation_deadline(kNb, na, {}, [] { return 0.5; }), kNb + 800h);
  using Hours = std::chrono::duration<double, std::ratio<3600>>;
  const Hours late = draw_rotation_deadline(kNb, na, {}, [] { return 0.9999999; }) - kNb;
  EXPECT_NEAR(late.count(), 900.0, 0.01);
}

TEST(RotationDeadline, CustomWindowAndDegenerateLifetimes) {
  EXPECT_EQ(draw_rotation_deadline(kNb, kNb + 100h, {0.5, 0.5}, [] { return 0.7; }), kNb + 50h);
  EXPECT_EQ(draw_rotation_deadline(kNb, kNb, {}, [] { return 0.5; }), kNb);
  EXPECT_EQ(draw_rotation_deadline(kNb, kNb - 1h, {}, [] { return 0.5; }), kNb);
}

TEST(RotationDeadline, DrawsSpreadAcrossTheWindow) {
  auto u = system_uniform01();
  int low = 0, high = 0;
  for (int i = 0; i < 2000; ++i) {
    auto d = draw_rotation_deadline(kNb, kNb + 1000h, {}, u);
    ASSERT_GE(d, kNb + 700h);
    ASSERT_LE(d, kNb + 900h);
    if (d < kNb + 800h)
      ++low;
    else
      ++high;
  }
  EXPECT_GT(low, 800);
  EXPECT_GT(high, 800);
}

}  // namespace
}  // namespace kcd::rotation

// RFC 3339 times: exactly the form, every field in range; times past what a SysTime holds are
// clamped, never overflowed (the certificate fuzz target found both).
#include "base/rfc3339.hpp"

#include <gtest/gtest.h>

namespace kcd {
namespace {

TEST(BaseRfc3339, ReadsTheFormsKubernetesWrites) {
  EXPECT_EQ(to_rfc3339(*parse_rfc3339("2026-11-22T10:32:28Z")), "2026-11-22T10:32:28Z");
  EXPECT_EQ(to_rfc3339(*parse_rfc3339("2026-11-22T10:32:28.123456789Z"), true), "2026-11-22T10:32:28.123Z");
  EXPECT_EQ(to_rfc3339(*parse_rfc3339("2026-11-22T12:32:28+02:00")), "2026-11-22T10:32:28Z");
  EXPECT_EQ(to_rfc3339(*parse_rfc3339("2026-11-22T10:02:28-00:30")), "2026-11-22T10:32:28Z");
  EXPECT_EQ(to_rfc3339(*parse_rfc3339("2024-02-29T00:00:00Z")), "2024-02-29T00:00:00Z");
  EXPECT_EQ(to_rfc3339(*parse_rfc3339("1969-12-31T23:59:59Z")), "1969-12-31T23:59:59Z");
}

TEST(BaseRfc3339, FractionsBefore1970RoundDownLikeAfter) {
  // Milliseconds are cut toward the past on both sides of the epoch, so a printed time never
  // lies after the real one.
  EXPECT_EQ(to_rfc3339(*parse_rfc3339("1938-11-22T10:32:28.126789+02:00"), true), "1938-11-22T08:32:28.126Z");
  EXPECT_EQ(to_rfc3339(*parse_rfc3339("1969-12-31T23:59:59.9999Z"), true), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(to_rfc3339(*parse_rfc3339("2026-11-22T10:32:28.9999Z"), true), "2026-11-22T10:32:28.999Z");
}

class BaseRfc3339Refuses : public testing::TestWithParam<const char*> {};

TEST_P(BaseRfc3339Refuses, OutOfRangeFieldsAndShortOffsets) {
  EXPECT_FALSE(parse_rfc3339(GetParam()).has_value()) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(
    Times, BaseRfc3339Refuses,
    testing::Values("2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-30T00:00:00Z",
                    "2025-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z",
                    "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00+1:2",
                    "2026-01-01T00:00:00+01", "2026-01-01T00:00:00+01:", "2026-01-01T00:00:00+24:00",
                    "2026-01-01T00:00:00+01:60", "2026-01-01T00:00:00+0100", " 2026-01-01T00:00:00Z",
                    "26-01-01T00:00:00Z", "2026-1-01T00:00:00Z", "2026-01-01T00:00:00",
                    "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00Zx", "+2026-01-01T00:00:00Z",
                    "2026-01-01T0:00:00Z", "9999-12-31T23:59:59Z"));

TEST(BaseRfc3339, SecondsPastWhatASysTimeHoldsAreClamped) {
  const SysTime far = sys_time_from_seconds(253402300799LL);  // 9999-12-31T23:59:59Z
  EXPECT_EQ(far, sys_time_from_seconds(kMaxSeconds));
  EXPECT_EQ(to_rfc3339(far), "2255-03-14T16:00:00Z");
  EXPECT_EQ(sys_time_from_seconds(-253402300799LL), sys_time_from_seconds(kMinSeconds));
  // Room is left for the arithmetic done on such times (a year of validity, a rotation window).
  EXPECT_GT(far + std::chrono::hours(24 * 365 * 5), far);
}

}  // namespace
}  // namespace kcd

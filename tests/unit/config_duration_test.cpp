// Durations as kubelet users write them.
#include "base/duration.hpp"

#include <gtest/gtest.h>

namespace kcd::config {
namespace {

using namespace std::chrono_literals;

TEST(ConfigDuration, ParsesGoStyleDurations) {
  struct Case {
    const char* text;
    std::chrono::milliseconds want;
  } cases[] = {{"0", 0ms},        {"90s", 90s},    {"5m", 5min},       {"1h", 1h},
               {"1h30m", 90min},  {"1.5h", 90min}, {"250ms", 250ms},   {"2h45m30s", 2h + 45min + 30s},
               {"1000000us", 1s}, {"+5s", 5s},     {"8760h", 8760h},   {"0.001s", 1ms},
               {"2000us", 2ms},   {"1.25m", 75s},  {"0.5ms500us", 1ms}};
  for (const auto& c : cases) {
    auto d = parse_duration(c.text);
    ASSERT_TRUE(d) << c.text << ": " << d.error().message;
    EXPECT_EQ(*d, c.want) << c.text;
  }
}

TEST(ConfigDuration, RejectsWithAReason) {
  struct Case {
    const char* text;
    const char* fragment;
  } cases[] = {{"", "empty"},
               {"-5s", "negative"},
               {"5", "missing unit"},
               {"5d", "unknown unit \"d\""},
               {"s", "expected a number"},
               {"1h-5m", "expected a number"},
               {"99999999999999h", "too large"},
               {"99999999999999999999s", "too large"},
               {"1.5ms", "finer than a millisecond"},
               {"1ns", "finer than a millisecond"},
               {"1500us", "finer than a millisecond"},
               {"0.0000000001s", "finer than a nanosecond"},
               {"1e3s", "unknown unit \"e\""},
               {"nan", "expected a number"},
               {"5m ", "expected a number"}};
  for (const auto& c : cases) {
    auto d = parse_duration(c.text);
    ASSERT_FALSE(d) << c.text;
    EXPECT_NE(d.error().message.find(c.fragment), std::string::npos) << c.text << ": " << d.error().message;
    EXPECT_NE(d.error().message.find("90s, 5m, 1h"), std::string::npos);
  }
}

TEST(ConfigDuration, ErrorsAreConfigurationErrors) {
  auto d = parse_duration("5x");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().kind, ErrorKind::Config);
}

TEST(ConfigDuration, FormatsCompactly) {
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(45s), "45s");
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(51h), "51h");
}

}  // namespace
}  // namespace kcd::config

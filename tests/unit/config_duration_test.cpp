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
  } cases[] = {{"0", 0ms},        {"90s", 90s},    {"5m", 5min},     {"1h", 1h},
               {"1h30m", 90min},  {"1.5h", 90min}, {"250ms", 250ms}, {"2h45m30s", 2h + 45min + 30s},
               {"1000000us", 1s}, {"+5s", 5s},     {"8760h", 8760h}};
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
               {"99999999999999h", "too large"}};
  for (const auto& c : cases) {
    auto d = parse_duration(c.text);
    ASSERT_FALSE(d) << c.text;
    EXPECT_NE(d.error().message.find(c.fragment), std::string::npos) << c.text << ": " << d.error().message;
    EXPECT_NE(d.error().message.find("90s, 5m, 1h"), std::string::npos);
  }
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

// Exact numbers: what is stored is what was written, or an error says why not.
#include "base/number.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kcd {
namespace {

using ::testing::HasSubstr;

TEST(WholeNumber, ReadsDecimalDigitsExactly) {
  EXPECT_EQ(*parse_whole_number("0", 0, 10), 0);
  EXPECT_EQ(*parse_whole_number("600", 600, 700), 600);
  EXPECT_EQ(*parse_whole_number("-5", -10, 10), -5);
  EXPECT_EQ(*parse_whole_number("9223372036854775807", 0, INT64_MAX), INT64_MAX);
}

TEST(WholeNumber, RefusesEverythingElseWithTheReason) {
  struct Case {
    const char* text;
    const char* why;
  } cases[] = {{"", "is not an integer"},
               {"5x", "is not an integer"},
               {"5 ", "is not an integer"},
               {" 5", "is not an integer"},
               {"+5", "is not an integer"},
               {"1.5", "is not an integer"},
               {"1e3", "is not an integer"},
               {"nan", "is not an integer"},
               {"inf", "is not an integer"},
               {"-0", "is not an integer"},
               {"0x10", "is hexadecimal"},
               {"0X10", "is hexadecimal"},
               {"010", "leading zero"},
               {"-010", "leading zero"},
               {"0o10", "is not decimal"},
               {"9223372036854775808", "out of range"},
               {"99999999999999999999", "out of range"},
               {"11", "11 is out of range"},
               {"-1", "-1 is out of range"}};
  for (const auto& c : cases) {
    auto n = parse_whole_number(c.text, 0, 10);
    ASSERT_FALSE(n) << c.text;
    EXPECT_EQ(n.error().kind, ErrorKind::Config);
    EXPECT_THAT(n.error().message, HasSubstr(c.why)) << c.text;
    EXPECT_THAT(n.error().message, HasSubstr("use a whole number from 0 to 10")) << c.text;
  }
}

TEST(Decimal, ReadsAtMostTheGivenDecimalsScaled) {
  EXPECT_EQ(*parse_decimal("70", 2, 0, 10000), 7000);
  EXPECT_EQ(*parse_decimal("70.5", 2, 0, 10000), 7050);
  EXPECT_EQ(*parse_decimal("70.25", 2, 0, 10000), 7025);
  EXPECT_EQ(*parse_decimal("0.5", 2, 0, 10000), 50);
  EXPECT_EQ(*parse_decimal("100", 2, 0, 10000), 10000);
  for (const char* bad : {"70.125", "70.", ".5", "1e2", "nan", "inf", "0x46", "070", "+70", "70 ", "",
                          "100.01", "99999999999999999999"}) {
    EXPECT_FALSE(parse_decimal(bad, 2, 0, 10000)) << bad;
  }
  EXPECT_THAT(parse_decimal("70.125", 2, 0, 10000).error().message, HasSubstr("more than 2 decimals"));
}

TEST(Decimal, FormatsWithoutTrailingZeros) {
  EXPECT_EQ(format_decimal(7000, 2), "70");
  EXPECT_EQ(format_decimal(7050, 2), "70.5");
  EXPECT_EQ(format_decimal(7025, 2), "70.25");
  EXPECT_EQ(format_decimal(5, 2), "0.05");
  EXPECT_EQ(format_decimal(-150, 2), "-1.5");
}

}  // namespace
}  // namespace kcd

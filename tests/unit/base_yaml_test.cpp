// The bounded YAML loader: what costs more to walk than its size suggests is refused, naming
// the file, the position and the limit; ordinary documents load as yaml-cpp reads them.
#include "base/yaml.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kcd {
namespace {

using ::testing::HasSubstr;

// The classic billion laughs: 9 levels of 9 aliases each, 9^9 nodes once expanded.
std::string billion_laughs() {
  std::string text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) text += (k ? ", " : "") + prev;
    text += "]\n";
  }
  return text;
}

TEST(BaseYaml, LoadsAnOrdinaryDocument) {
  auto doc = load_yaml("a: 1\nb: [x, y]\nc: {d: e}\n", "f.yaml", ErrorKind::Config);
  ASSERT_TRUE(doc) << doc.error().format();
  EXPECT_EQ((*doc)["a"].Scalar(), "1");
  EXPECT_EQ((*doc)["b"].size(), 2u);
}

TEST(BaseYaml, ReportsAParseErrorAtItsPosition) {
  auto doc = load_yaml("a: 1\nb: [x\n", "f.yaml", ErrorKind::Corrupt);
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.error().kind, ErrorKind::Corrupt);
  EXPECT_THAT(doc.error().format(), HasSubstr("f.yaml:3:1: invalid YAML"));
}

TEST(BaseYaml, BillionLaughsIsRefusedCountingEveryUseOfAnAlias) {
  // Small in bytes (well under 1 KiB), about 387 million nodes expanded: refused after the first
  // million, so this returns at once.
  auto doc = load_yaml(billion_laughs(), "laughs.yaml", ErrorKind::Config);
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.error().kind, ErrorKind::Config);
  EXPECT_THAT(doc.error().format(), HasSubstr("laughs.yaml:"));
  EXPECT_THAT(doc.error().message, HasSubstr("more than 1000000 YAML nodes"));
  EXPECT_THAT(doc.error().message, HasSubstr("alias"));
}

TEST(BaseYaml, TooManyKeysAreRefusedAtTheFirstKeyPastTheLimit) {
  std::string text;
  for (int i = 0; i < 11; ++i) text += "k" + std::to_string(i) + ": v\n";
  YamlLimits limits;
  limits.max_keys = 10;
  auto doc = load_yaml(text, "keys.yaml", ErrorKind::Config, limits);
  ASSERT_FALSE(doc);
  EXPECT_THAT(doc.error().format(), HasSubstr("keys.yaml:11:1: over a limit: more than 10 mapping keys"));
  text.pop_back();
  text.resize(text.rfind('\n') + 1);  // 10 keys: accepted
  EXPECT_TRUE(load_yaml(text, "keys.yaml", ErrorKind::Config, limits));
}

TEST(BaseYaml, DeepNestingIsRefused) {
  std::string deep;
  for (int i = 0; i < 65; ++i) deep += "[";
  for (int i = 0; i < 65; ++i) deep += "]";
  auto doc = load_yaml(deep, "deep.yaml", ErrorKind::Config);
  ASSERT_FALSE(doc);
  EXPECT_THAT(doc.error().message, HasSubstr("nested more than 64 levels deep"));
  std::string ok;
  for (int i = 0; i < 64; ++i) ok += "[";
  for (int i = 0; i < 64; ++i) ok += "]";
  EXPECT_TRUE(load_yaml(ok, "deep.yaml", ErrorKind::Config));
}

TEST(BaseYaml, VeryDeepNestingIsAnErrorNotACrash) {
  // Past yaml-cpp's own recursion guard: an error from the parser, never a stack overflow.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto doc = load_yaml(deep, "deeper.yaml", ErrorKind::Config);
  ASSERT_FALSE(doc);
  EXPECT_THAT(doc.error().format(), HasSubstr("deeper.yaml:"));
}

TEST(BaseYaml, ALongLineIsRefusedBeforeParsing) {
  YamlLimits limits;
  limits.max_line_bytes = 100;
  const std::string text = "a: 1\nb: " + std::string(200, 'x') + "\n";
  auto doc = load_yaml(text, "long.yaml", ErrorKind::Config, limits);
  ASSERT_FALSE(doc);
  EXPECT_THAT(doc.error().format(), HasSubstr("long.yaml:2:101: over a limit: a line longer than 100 bytes"));
}

}  // namespace
}  // namespace kcd

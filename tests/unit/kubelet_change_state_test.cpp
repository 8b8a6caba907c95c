// The record of kubelet config changes: written and read back exactly, and every field of a
// hostile or damaged file checked, with the field named.
#include "kubelet/change_state.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kcd::kubelet {
namespace {

using ::testing::HasSubstr;

ChangeState sample() {
  ChangeState s;
  s.rollbacks = 2;
  s.kubelet = "v1.24.17 (running kubelet (pid 812, /usr/bin/kubelet))";
  s.pending = PendingChange{"/var/lib/kubelet/config.yaml",
                            "/var/lib/kubelet/config.yaml.kubelet-certd.bak",
                            std::string(64, 'a'),
                            {"seccompDefault", "readOnlyPort"},
                            "kubelet v1.24.17; hardening cis",
                            *parse_rfc3339("2026-12-02T10:00:00.123Z")};
  s.refused = RefusedChange{"kubelet v1.24.17; hardening cis",
                            {{"seccompDefault", "the kubelet did not come back"}},
                            *parse_rfc3339("2026-12-02T10:01:00Z")};
  s.client_ca = WrittenClientCa{"/etc/kubernetes/pki/ca.crt", std::string(64, 'b'), std::string(64, 'c'),
                                *parse_rfc3339("2026-12-02T10:02:00.5Z")};
  return s;
}

TEST(ChangeState, RoundTripsExactly) {
  const ChangeState s = sample();
  const auto parsed = parse_change_state(serialize_change_state(s), "state.json");
  ASSERT_TRUE(parsed) << parsed.error().format();
  EXPECT_EQ(*parsed, s);
  const auto empty = parse_change_state(serialize_change_state(ChangeState{}), "state.json");
  ASSERT_TRUE(empty) << empty.error().format();
  EXPECT_EQ(*empty, ChangeState{});
}

TEST(ChangeState, EveryFieldIsCheckedAndNamed) {
  const std::string good = serialize_change_state(sample());
  struct Case {
    std::string from, to, error;
  };
  const std::vector<Case> cases = {
      {"\"rollbacks\": 2", "\"rollbacks\": \"2\"", "rollbacks: expected a whole number"},
      {"\"rollbacks\": 2", "\"rollbacks\": -1", "rollbacks: expected a whole number"},
      {"\"rollbacks\": 2", "\"rollbacks\": 2.5", "rollbacks: expected a whole number"},
      {"\"config\": \"/var/lib/kubelet/config.yaml\"", "\"config\": 7",
       "pendingChange.config: expected a string"},
      {"\"config\": \"/var/lib/kubelet/config.yaml\"", "\"config\": \"relative.yaml\"",
       "pendingChange.config: expected an absolute path"},
      {std::string(64, 'a'), std::string(63, 'a') + "Z",
       "pendingChange.patchedSha256: expected 64 lowercase hex digits"},
      {"\"seccompDefault\": \"the kubelet", "\"seccompDefault\": [\"the kubelet\"], \"x\": \"",
       "refused.keys.seccompDefault: expected a string"},
      {"\"at\": \"2026-12-02T10:01:00.000Z\"", "\"at\": \"yesterday\"", "refused.at: not an RFC 3339 time"},
      {"\"kind\": \"KubeletChangeState\"", "\"kind\": \"State\"", "apiVersion/kind"},
      {"\"rollbacks\": 2", "\"rollbacks\": 2, \"extra\": true", "extra: unknown field"},
      {"\"path\": \"/etc/kubernetes/pki/ca.crt\"", "\"path\": \"ca.crt\"",
       "clientCA.path: expected an absolute path"},
      {"\"path\": \"/etc/kubernetes/pki/ca.crt\"", "\"path\": false", "clientCA.path: expected a string"},
      {std::string(64, 'b'), std::string(64, 'B'), "clientCA.sha256: expected 64 lowercase hex digits"},
      {std::string(64, 'c'), "c", "clientCA.previousSha256: expected \"\" or 64 lowercase hex digits"},
  };
  for (const auto& c : cases) {
    std::string text = good;
    const auto at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from << " in\n" << good;
    text.replace(at, c.from.size(), c.to);
    const auto parsed = parse_change_state(text, "state.json");
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().kind, ErrorKind::Corrupt);
    EXPECT_THAT(parsed.error().format(), HasSubstr("state.json: " + c.error)) << text;
  }
  EXPECT_EQ(parse_change_state("{not json", "state.json").error().format(), "state.json: not valid JSON");
  EXPECT_THAT(parse_change_state("[]", "state.json").error().message, HasSubstr("expected an object"));
}

}  // namespace
}  // namespace kcd::kubelet

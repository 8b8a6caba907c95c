// Log lines: stable message + key=value fields, quoting, and secrets scrubbed.
#include "systemd/log.hpp"

#include <gtest/gtest.h>

namespace kcd::log {
namespace {

using namespace std::chrono_literals;

TEST(SystemdLog, FormatsMessageAndFields) {
  EXPECT_EQ(format_event("csr filed",
                         {{"csr", "node-csr-x"}, {"signer", "kubernetes.io/kube-apiserver-client-kubelet"}}),
            "csr filed csr=node-csr-x signer=kubernetes.io/kube-apiserver-client-kubelet");
}

TEST(SystemdLog, QuotesValuesWithSpacesQuotesAndNewlines) {
  EXPECT_EQ(format_event("e", {{"error", "a \"b\"\nc"}}), R"(e error="a \"b\"\nc")");
  EXPECT_EQ(format_event("e", {{"empty", ""}}), R"(e empty="")");
}

TEST(SystemdLog, FormatsTimesAndDurations) {
  const auto t = std::chrono::sys_days{std::chrono::year{2026} / 11 / 22} + 10h + 32min + 28s;
  EXPECT_EQ(format_event("e", {{"not_after", t}}), "e not_after=2026-11-22T10:32:28Z");
  EXPECT_EQ(format_event("e", {{"d", 1500ms}, {"e", 250ms}, {"f", 3000ms}}), "e d=1.500s e=250ms f=3s");
  EXPECT_EQ(format_event("e", {{"n", 42}, {"b", true}}), "e n=42 b=true");
}

TEST(SystemdLog, RedactsBootstrapTokens) {
  EXPECT_EQ(redact("token abcdef.0123456789abcdef used"), "token <redacted token> used");
  EXPECT_EQ(redact("x=abcdef.0123456789abcdef"), "x=<redacted token>");
  // Not a token: wrong lengths or characters.
  EXPECT_EQ(redact("abcdefg.0123456789abcdef"), "abcdefg.0123456789abcdef");
  EXPECT_EQ(redact("kubernetes.io/kube-apiserver-client-kubelet"),
            "kubernetes.io/kube-apiserver-client-kubelet");
}

TEST(SystemdLog, RedactsBearerCredentials) {
  EXPECT_EQ(redact("Authorization: Bearer eyJhbGciOi.xyz rest"), "Authorization: Bearer <redacted> rest");
}

TEST(SystemdLog, RedactsPrivateKeyBlocks) {
  const std::string pem =
      "before -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY----- after";
  EXPECT_EQ(redact(pem), "before <redacted private key> after");
  const std::string cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
  EXPECT_EQ(redact(cert), cert);
}

TEST(SystemdLog, JournalFieldNames) {
  EXPECT_EQ(journal_field_name("cert"), "CERTD_CERT");
  EXPECT_EQ(journal_field_name("not_after"), "CERTD_NOT_AFTER");
  EXPECT_EQ(journal_field_name("retry-in"), "CERTD_RETRY_IN");
}

}  // namespace
}  // namespace kcd::log

// CSR objects, Status errors and the watch stream, parsed from the recorded apiserver answers.
#include "daemon/api/types.hpp"
#include "tests/support/subprocess.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kcd::api {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path kApi = fs::path(KCD_FIXTURES_DIR) / "k8s-api";

json fixture(const std::string& name) {
  return json::parse(testing::read_text(kApi / name));
}

TEST(ApiCsr, ParsesEveryRecordedCsrObject) {
  struct Case {
    const char* file;
    bool approved, denied, failed, issued;
  } cases[] = {
      {"csr-create-201.json", false, false, false, false},
      {"csr-get-pending.json", false, false, false, false},
      {"csr-get-approved-issued.json", true, false, false, true},
      {"csr-get-approved-issued-rsa.json", true, false, false, true},
      {"csr-get-approved-issued-renewal.json", true, false, false, true},
      {"csr-get-approved-issued-kubelet-serving.json", true, false, false, true},
      {"csr-get-denied.json", false, true, false, false},
      {"csr-get-failed.json", true, false, true, false},
  };
  for (const auto& c : cases) {
    auto csr = parse_csr(fixture(c.file)["response"]["body"]);
    ASSERT_TRUE(csr) << c.file << ": " << csr.error().format();
    EXPECT_EQ(csr->approved(), c.approved) << c.file;
    EXPECT_EQ(csr->denied(), c.denied) << c.file;
    EXPECT_EQ(csr->failed(), c.failed) << c.file;
    EXPECT_EQ(csr->issued(), c.issued) << c.file;
    EXPECT_EQ(csr->terminal_condition() != nullptr, c.denied || c.failed) << c.file;
    EXPECT_NE(csr->request_pem.find("-----BEGIN CERTIFICATE REQUEST-----"), std::string::npos) << c.file;
    if (c.issued) {
      EXPECT_NE(csr->certificate_pem.find("-----BEGIN CERTIFICATE-----"), std::string::npos) << c.file;
    }
  }
  auto created = parse_csr(fixture("csr-create-201.json")["response"]["body"]);
  EXPECT_EQ(created->name, "node-csr-testnode1-ec-1795343548");
  EXPECT_EQ(created->resource_version, "252");
  EXPECT_EQ(created->signer_name, "kubernetes.io/kube-apiserver-client-kubelet");
  EXPECT_EQ(created->usages,
            (std::vector<std::string>{"digital signature", "key encipherment", "client auth"}));
  EXPECT_EQ(created->username, "system:bootstrap:abcdef");
  auto failed = parse_csr(fixture("csr-get-failed.json")["response"]["body"]);
  EXPECT_EQ(failed->terminal_condition()->reason, "SignerValidationFailure");
  auto exp = parse_csr(fixture("csr-get-issued-expirationseconds-600.json")["response"]["body"]);
  EXPECT_EQ(exp->expiration_seconds, 600);
}

// Issue 11: the approver lists CSRs and watches from the list's resourceVersion.
TEST(ApiCsrList, ParsesTheRecordedListsAndTheirResourceVersion) {
  const json r = fixture("csr-list-signername-kubelet-serving-200-as-approver.json")["response"];
  auto list = csr_list_from_response(r["status"], r["body_raw"].get<std::string>(), "");
  ASSERT_TRUE(list) << list.error().format();
  EXPECT_EQ(list->resource_version, "280");
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].signer_name, "kubernetes.io/kubelet-serving");
  EXPECT_FALSE(list->items[0].name.empty());
  const json all = fixture("csr-list-fieldselector-200.json")["response"];
  EXPECT_TRUE(csr_list_from_response(all["status"], all["body_raw"].get<std::string>(), ""));
  const json gone = fixture("csr-list-410-continue-expired.json")["response"];
  auto expired = csr_list_from_response(gone["status"], gone["body_raw"].get<std::string>(), "");
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().kind, ErrorKind::Gone);
  auto wrong = csr_list_from_response(200, R"({"kind":"NodeList","items":[]})", "");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("expected CertificateSigningRequestList"), std::string::npos);
}

// The approval body has the recorded request's shape: the CSR as read plus the condition.
TEST(ApiCsr, ApprovalBodyHasTheRecordedShape) {
  const json recorded = fixture("csr-approval-200-as-approver.json")["request"]["body"];
  json as_read = recorded;
  as_read["status"]["conditions"] = json::array();
  auto csr = parse_csr(as_read);
  ASSERT_TRUE(csr) << csr.error().format();
  const json& cond = recorded["status"]["conditions"][0];
  const json body =
      json::parse(csr_approval_body(*csr, CsrCondition{"Approved", "True", cond["reason"], cond["message"],
                                                       cond.value("lastUpdateTime", "")}));
  EXPECT_EQ(body["kind"], recorded["kind"]);
  EXPECT_EQ(body["apiVersion"], recorded["apiVersion"]);
  EXPECT_EQ(body["metadata"]["name"], recorded["metadata"]["name"]);
  EXPECT_EQ(body["metadata"]["resourceVersion"], recorded["metadata"]["resourceVersion"]);
  EXPECT_EQ(body["spec"], recorded["spec"]);
  EXPECT_EQ(body["status"]["conditions"][0]["type"], "Approved");
  EXPECT_EQ(body["status"]["conditions"][0]["status"], "True");
  EXPECT_EQ(body["status"]["conditions"][0]["reason"], cond["reason"]);
}

TEST(ApiCsr, RejectsObjectsOfAnotherKind) {
  EXPECT_FALSE(parse_csr(json::parse(R"({"kind":"Status"})")));
  EXPECT_FALSE(parse_csr(json::parse(R"([1,2])")));
  EXPECT_FALSE(parse_csr(json::parse(R"({"kind":"CertificateSigningRequest","spec":{"request":"***"}})")));
}

TEST(ApiCsr, CreateBodyHasTheRecordedShape) {
  const json recorded = fixture("csr-create-201.json")["request"]["body"];
  CsrCreate c;
  c.name = recorded["metadata"]["name"];
  c.signer_name = recorded["spec"]["signerName"];
  c.usages = recorded["spec"]["usages"].get<std::vector<std::string>>();
  auto parsed = parse_csr(json::parse(R"({"kind":"CertificateSigningRequest","spec":{"request":")" +
                                      recorded["spec"]["request"].get<std::string>() + "\"}}"));
  c.request_pem = parsed->request_pem;
  EXPECT_EQ(json::parse(csr_create_body(c)), recorded);
  c.expiration_seconds = 3600;
  EXPECT_EQ(json::parse(csr_create_body(c))["spec"]["expirationSeconds"], 3600);
}

TEST(ApiStatus, EveryRecordedErrorBecomesItsKind) {
  struct Case {
    const char* file;
    ErrorKind kind;
    const char* reason;
  } cases[] = {
      {"unauthorized-401-bad-token.json", ErrorKind::Unauthorized, "Unauthorized"},
      {"unauthorized-401-expired-client-cert.json", ErrorKind::Unauthorized, "Unauthorized"},
      {"forbidden-403-anonymous-list-csrs.json", ErrorKind::Forbidden, "Forbidden"},
      {"forbidden-403-bootstrap-delete-csr.json", ErrorKind::Forbidden, "Forbidden"},
      {"not-found-404.json", ErrorKind::NotFound, "NotFound"},
      {"csr-create-409-alreadyexists.json", ErrorKind::AlreadyExists, "AlreadyExists"},
      {"csr-list-410-exact-rv-compacted.json", ErrorKind::Gone, "Expired"},
      {"csr-create-422-invalid-usage.json", ErrorKind::Invalid, "Invalid"},
      {"csr-create-422-expirationseconds-too-small.json", ErrorKind::Invalid, "Invalid"},
      {"csr-create-400-malformed-json.json", ErrorKind::BadRequest, "BadRequest"},
      {"csr-create-415-content-type.json", ErrorKind::BadRequest, "UnsupportedMediaType"},
  };
  for (const auto& c : cases) {
    const json f = fixture(c.file);
    const Error e = error_from_response(f["response"]["status"].get<int>(),
                                        f["response"]["body_raw"].get<std::string>(), "");
    EXPECT_EQ(e.kind, c.kind) << c.file;
    EXPECT_EQ(e.reason, c.reason) << c.file;
    EXPECT_EQ(e.code, f["response"]["status"].get<int>()) << c.file;
    EXPECT_EQ(e.message, f["response"]["body"]["message"].get<std::string>()) << c.file;
    EXPECT_NE(e.format().find(e.message), std::string::npos);
  }
}

// Issue 10, class 10: what the server says reaches status, the state file and the terminal
// only redacted, escaped and bounded; a decision word such as Denied is unchanged.
TEST(ApiOutsideText, ServerWordsAreEscapedAndRedactedWhereTheyEnter) {
  json denied = fixture("csr-get-denied.json")["response"]["body"];
  auto& condition = denied["status"]["conditions"][0];
  condition["message"] = "denied \x1b[2J\x1b[Hkubelet-certd: renewed client\nby abcdef.0123456789abcdef";
  condition["reason"] = std::string("Policy\xff");
  auto csr = parse_csr(denied);
  ASSERT_TRUE(csr) << csr.error().format();
  ASSERT_TRUE(csr->denied());
  const CsrCondition* c = csr->terminal_condition();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->message, "denied \\x1b[2J\\x1b[Hkubelet-certd: renewed client\\nby <redacted token>");
  EXPECT_EQ(c->reason, "Policy\\xff");
  EXPECT_EQ(c->type, "Denied");

  json status = fixture("csr-create-422-invalid-usage.json")["response"]["body"];
  status["message"] = std::string(100000, 'x') + "\x07";
  status["reason"] = "Invalid\r\nX-Injected: 1";
  const Error e = error_from_response(422, status.dump(), "");
  EXPECT_LE(e.message.size(), 1100u);
  EXPECT_EQ(e.reason, "Invalid\\r\\nX-Injected: 1");
  const Error raw = error_from_response(500, "<html>\x1b]0;title\x07 Bearer s3cr3t</html>", "");
  EXPECT_EQ(raw.message, "<html>\\x1b]0;title\\x07 Bearer <redacted>");
}

TEST(ApiStatus, RetryAfterFromHeaderOrDetailsAndNonJsonBodies) {
  auto throttled = error_from_response(
      429,
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":3},"code":429})",
      "");
  EXPECT_EQ(throttled.kind, ErrorKind::TooManyRequests);
  EXPECT_EQ(throttled.retry_after, std::chrono::seconds(3));
  EXPECT_TRUE(throttled.retryable);
  auto header = error_from_response(503, "upstream connect error", "7");
  EXPECT_EQ(header.kind, ErrorKind::ServerError);
  EXPECT_EQ(header.retry_after, std::chrono::seconds(7));
  EXPECT_EQ(header.message, "upstream connect error");
  EXPECT_FALSE(error_from_response(403, "{}", "").retryable);
  EXPECT_FALSE(error_from_response(422, "{}", "").retryable);
}

// Feeds `text` to a decoder in pieces of `step` bytes.
std::vector<Result<WatchEvent>> decode_in_pieces(const std::string& text, std::size_t step) {
  WatchDecoder d;
  std::vector<Result<WatchEvent>> all;
  for (std::size_t i = 0; i < text.size(); i += step) {
    for (auto& e : d.feed(std::string_view(text).substr(i, step))) all.push_back(std::move(e));
  }
  return all;
}

TEST(ApiWatch, DecodesTheRecordedStreamsSplitAnywhere) {
  const std::string bootstrap = testing::read_text(kApi / "watch-csr-bootstrap-ec.jsonl");
  for (std::size_t step : {1ul, 7ul, 100ul, 1000ul, bootstrap.size()}) {
    auto events = decode_in_pieces(bootstrap, step);
    ASSERT_EQ(events.size(), 3u) << "step " << step;
    EXPECT_EQ(events[0]->type, WatchEvent::Type::Added);
    EXPECT_EQ(events[1]->type, WatchEvent::Type::Modified);
    EXPECT_TRUE(events[1]->object.approved());
    EXPECT_FALSE(events[1]->object.issued());
    EXPECT_TRUE(events[2]->object.issued());
    EXPECT_EQ(events[2]->object.resource_version, "254");
  }
  auto denied = decode_in_pieces(testing::read_text(kApi / "watch-csr-denied.jsonl"), 13);
  ASSERT_EQ(denied.size(), 2u);
  EXPECT_TRUE(denied[1]->object.denied());
  auto too_old = decode_in_pieces(testing::read_text(kApi / "watch-csr-rv-too-old.jsonl"), 5);
  ASSERT_EQ(too_old.size(), 1u);
  EXPECT_EQ(too_old[0]->type, WatchEvent::Type::Error);
  EXPECT_EQ(too_old[0]->error->kind, ErrorKind::Gone);
  EXPECT_EQ(too_old[0]->error->reason, "Expired");
}

TEST(ApiWatch, SeveralEventsInOnePieceAndGarbage) {
  const std::string two =
      testing::read_text(kApi / "watch-csr-rv0.jsonl") + testing::read_text(kApi / "watch-csr-rv0.jsonl");
  WatchDecoder d;
  EXPECT_EQ(d.feed(two).size(), 2u);
  auto bad = d.feed("{not json}\n");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_FALSE(bad[0]);
  EXPECT_EQ(bad[0].error().kind, ErrorKind::Unexpected);
}

TEST(ApiWatch, AnEventLongerThanTheLimitIsAnErrorBeforeItsEnd) {
  WatchDecoder d(1000);
  EXPECT_TRUE(d.feed(std::string(600, ' ')).empty());
  // Past the limit without a newline: the error comes now, not when (if ever) the line ends.
  auto over = d.feed(std::string(600, ' '));
  ASSERT_EQ(over.size(), 1u);
  ASSERT_FALSE(over[0]);
  EXPECT_EQ(over[0].error().kind, ErrorKind::Unexpected);
  EXPECT_THAT(over[0].error().message, HasSubstr("watch event longer than 1000 bytes"));
  // Nothing more is decoded from that stream.
  EXPECT_TRUE(d.feed("\n" + testing::read_text(kApi / "watch-csr-rv0.jsonl")).empty());
}

TEST(ApiWatch, AnEventUpToTheLimitArrivingByteByByteIsDecoded) {
  const std::string line = testing::read_text(kApi / "watch-csr-rv0.jsonl");
  WatchDecoder d(line.size() - 1);  // the limit is on the line without its newline
  std::vector<Result<WatchEvent>> all;
  for (char c : line) {
    for (auto& e : d.feed(std::string_view(&c, 1))) all.push_back(std::move(e));
  }
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0]) << all[0].error().format();
}

}  // namespace
}  // namespace kcd::api

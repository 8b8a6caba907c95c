// devapi must answer exactly like the real kube-apiserver recorded in tests/fixtures/k8s-api:
// every recorded request is replayed byte for byte (only the secret token substituted) and the
// answer compared: status code, header names in order, framing, Status bodies to the letter,
// object shapes key by key (only genuinely dynamic values may differ).
#include "rotation/key.hpp"
#include "tests/devapi/server.hpp"
#include "tests/support/raw_https.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/test_ca.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace kcd::devapi {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;
using testing::HttpMessage;
using namespace std::chrono_literals;

const fs::path kApi = fs::path(KCD_FIXTURES_DIR) / "k8s-api";
const std::string kToken = "abcdef.0123456789abcdef";

ordered_json fixture(const std::string& name) {
  return ordered_json::parse(testing::read_text(kApi / name));
}

// Values that differ between any two runs of a real apiserver too.
bool dynamic_key(const std::string& key) {
  static const std::set<std::string> keys = {
      "uid",  "resourceVersion", "creationTimestamp", "lastUpdateTime", "lastTransitionTime",
      "time", "request",         "certificate",       "manager"};
  return keys.count(key) > 0;
}

// Same keys in the same order at every level; same values except dynamic ones.
void expect_same_shape(const ordered_json& want, const ordered_json& got, const std::string& where,
                       const std::set<std::string>& also_dynamic = {}) {
  ASSERT_EQ(want.type_name(), std::string(got.type_name())) << where;
  if (want.is_object()) {
    std::vector<std::string> wk, gk;
    for (auto it = want.begin(); it != want.end(); ++it) wk.push_back(it.key());
    for (auto it = got.begin(); it != got.end(); ++it) gk.push_back(it.key());
    ASSERT_EQ(wk, gk) << "keys differ at " << where;
    for (const auto& k : wk) {
      if (dynamic_key(k) || also_dynamic.count(k)) continue;
      expect_same_shape(want[k], got[k], where + "." + k, also_dynamic);
    }
  } else if (want.is_array()) {
    ASSERT_EQ(want.size(), got.size()) << where;
    for (std::size_t i = 0; i < want.size(); ++i) {
      expect_same_shape(want[i], got[i], where + "[" + std::to_string(i) + "]", also_dynamic);
    }
  } else {
    EXPECT_EQ(want, got) << "at " << where;
  }
}

std::vector<std::string> header_names(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) out.push_back(k);
  return out;
}

std::vector<std::string> header_names(const ordered_json& headers) {
  std::vector<std::string> out;
  for (auto it = headers.begin(); it != headers.end(); ++it) out.push_back(it.key());
  return out;
}

class DevapiFixtures : public ::testing::Test {
 protected:
  void SetUp() override { start(Options{}); }

  void start(Options o) {
    if (server_) server_->stop();
    o.state_dir = tmp_ / ("devapi-" + std::to_string(++generation_));
    o.bootstrap_tokens = {kToken};
    server_ = std::make_unique<Server>(o);
    server_->start();
    ca_ = std::make_unique<testing::TestCa>(testing::TestCa::load(server_->ca_pem(), server_->ca_key_pem()));
    node_key_ = rotation::generate_key(KeyAlgorithm::EcdsaP256);
    testing::CertSpec spec;
    spec.subject = {"system:node:testnode1", {"system:nodes"}};
    spec.ext_key_usages = {"client auth"};
    spec.not_before = std::chrono::system_clock::now() - 1h;
    spec.not_after = std::chrono::system_clock::now() + 1h;
    node_cert_ = testing::to_pem(ca_->issue(node_key_.get(), spec).get());
  }

  enum class Auth { AsRecorded, Node, ExpiredNode, UnknownCaNode };

  // Sends the recorded request of `file` and returns the raw response.
  std::string send(const ordered_json& request, Auth auth, std::chrono::milliseconds wait = 5s,
                   std::unique_ptr<testing::RawHttps>* keep = nullptr) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (auto it = request["headers"].begin(); it != request["headers"].end(); ++it) {
      std::string k = it.key(), v = it.value();
      if (k == "Host" || k == "Content-Length") continue;
      if (k == "Authorization") {
        const auto pos = v.find("<REDACTED-token-secret>");
        if (pos != std::string::npos) v.replace(pos, 23, "0123456789abcdef");
      }
      headers.emplace_back(k, v);
    }
    std::string cert, key;
    if (auth == Auth::Node) {
      cert = node_cert_;
      key = rotation::private_key_to_pem(node_key_.get());
    } else if (auth == Auth::ExpiredNode || auth == Auth::UnknownCaNode) {
      auto k = rotation::generate_key(KeyAlgorithm::EcdsaP256);
      testing::CertSpec spec;
      spec.subject = {"system:node:testnode1", {"system:nodes"}};
      spec.not_before = std::chrono::sys_days{std::chrono::year{2020} / 1 / 1};
      spec.not_after = std::chrono::sys_days{std::chrono::year{2020} / 1 / 2};
      if (auth == Auth::UnknownCaNode) {
        spec.not_after = std::chrono::system_clock::now() + 1h;
        const auto unknown = testing::TestCa::create_root("unknown");
        cert = testing::to_pem(unknown.issue(k.get(), spec).get());
      } else {
        cert = testing::to_pem(ca_->issue(k.get(), spec).get());
      }
      key = rotation::private_key_to_pem(k.get());
    }
    const std::string url = request.contains("url") ? request["url"].get<std::string>()
                                                    : request["path"].get<std::string>() +
                                                          (request["query"].get<std::string>().empty()
                                                               ? ""
                                                               : "?" + request["query"].get<std::string>());
    const std::string body = request.contains("body_raw") && request["body_raw"].is_string()
                                 ? request["body_raw"].get<std::string>()
                                 : "";
    auto conn = std::make_unique<testing::RawHttps>(server_->port(), server_->ca_pem(), cert, key);
    conn->send(testing::http_request(request["method"], url, server_->port(), headers, body));
    std::string raw = conn->read_response(wait);
    if (keep) *keep = std::move(conn);
    return raw;
  }

  // Replays `file` and compares with its recorded response.
  void check(const std::string& file, Auth auth, bool exact_body) {
    SCOPED_TRACE(file);
    const ordered_json f = fixture(file);
    const HttpMessage got = testing::parse_http_response(send(f["request"], auth));
    const ordered_json& want = f["response"];
    EXPECT_EQ(got.status, want["status"].get<int>());
    EXPECT_EQ(header_names(got.headers), header_names(want["headers"]));
    if (exact_body) {
      EXPECT_EQ(got.body, want["body_raw"].get<std::string>());
    } else {
      expect_same_shape(want["body"], ordered_json::parse(got.body), "body");
    }
  }

  void wait_for(const std::function<bool()>& cond) {
    for (int i = 0; i < 500 && !cond(); ++i) std::this_thread::sleep_for(5ms);
  }

  testing::TempDir tmp_;
  int generation_ = 0;
  std::unique_ptr<Server> server_;
  std::unique_ptr<testing::TestCa> ca_;
  ossl::PKeyPtr node_key_;
  std::string node_cert_;
};

TEST_F(DevapiFixtures, StatusErrorsMatchToTheLetter) {
  for (const char* file :
       {"csr-create-422-invalid-request-pem.json", "csr-create-422-invalid-usage.json",
        "csr-create-422-duplicate-usage.json", "csr-create-422-missing-signername.json",
        "csr-create-422-bad-signername.json", "csr-create-422-expirationseconds-too-small.json",
        "csr-create-422-no-usages.json", "csr-create-400-malformed-json.json",
        "csr-create-400-wrong-kind.json", "csr-create-415-content-type.json", "not-found-404.json",
        "unauthorized-401-bad-token.json", "unauthorized-401-garbage-token.json",
        "forbidden-403-anonymous-list-csrs.json", "version-200.json", "readyz-200.json",
        "healthz-200-bootstrap-token.json"}) {
    check(file, Auth::AsRecorded, true);
  }
  check("unauthorized-401-expired-client-cert.json", Auth::ExpiredNode, true);
  check("unauthorized-401-unknown-ca-client-cert.json", Auth::UnknownCaNode, true);
}

TEST_F(DevapiFixtures, CreateConflictGetAndAutoApprovalMatch) {
  check("csr-create-201.json", Auth::AsRecorded, false);
  check("csr-create-409-alreadyexists.json", Auth::AsRecorded, true);
  wait_for([&] { return server_->list_csrs().at(0)["status"].contains("certificate"); });
  check("csr-get-approved-issued.json", Auth::AsRecorded, false);
  check("csr-get-as-node-200.json", Auth::Node, false);
  check("forbidden-403-bootstrap-delete-csr.json", Auth::AsRecorded, true);
  check("forbidden-403-node-update-approval.json", Auth::Node, true);
}

TEST_F(DevapiFixtures, PendingImmediatelyAfterCreate) {
  Options o;
  o.approve_delay = 1h;
  start(o);
  check("csr-create-201.json", Auth::AsRecorded, false);
  check("csr-get-immediately-after-create.json", Auth::AsRecorded, false);
}

TEST_F(DevapiFixtures, RsaAndExpirationSecondsAreSignedAsRecorded) {
  check("csr-create-201-rsa.json", Auth::AsRecorded, false);
  wait_for([&] {
    return !server_->list_csrs().empty() && server_->list_csrs().at(0)["status"].contains("certificate");
  });
  check("csr-get-approved-issued-rsa.json", Auth::AsRecorded, false);
}

TEST_F(DevapiFixtures, WithoutKeyEnciphermentStaysPendingThenFails) {
  check("csr-create-201-ec-no-keyencipherment.json", Auth::AsRecorded, false);
  std::this_thread::sleep_for(100ms);
  check("csr-get-pending.json", Auth::AsRecorded, false);
  server_->approve("node-csr-testnode1-ec-noke-1795343552", true);
  wait_for([&] { return server_->list_csrs().at(0)["status"]["conditions"].size() == 2; });
  check("csr-get-failed.json", Auth::AsRecorded, false);
}

TEST_F(DevapiFixtures, NodeRequestsMatch) {
  check("csr-create-201-renewal-as-node.json", Auth::Node, false);
  wait_for([&] { return server_->list_csrs().at(0)["status"].contains("certificate"); });
  check("csr-get-approved-issued-renewal.json", Auth::Node, false);
  check("csr-create-201-other-node-cn.json", Auth::Node, false);
  std::this_thread::sleep_for(100ms);
  check("csr-get-pending-other-node-cn.json", Auth::Node, false);
  check("csr-create-201-kubelet-serving.json", Auth::Node, false);
  std::this_thread::sleep_for(100ms);
  check("csr-get-pending-kubelet-serving.json", Auth::Node, false);
  server_->approve("csr-serving-testnode1-1795343557", true);
  wait_for([&] {
    for (const auto& c : server_->list_csrs()) {
      if (c["metadata"]["name"] == "csr-serving-testnode1-1795343557")
        return c["status"].contains("certificate");
    }
    return false;
  });
  check("csr-get-approved-issued-kubelet-serving.json", Auth::Node, false);
}

TEST_F(DevapiFixtures, GenerateNameCreatesWithManagedFields) {
  const ordered_json f = fixture("csr-create-201-generatename.json");
  const HttpMessage got = testing::parse_http_response(send(f["request"], Auth::Node));
  EXPECT_EQ(got.status, 201);
  const ordered_json body = ordered_json::parse(got.body);
  // The server picks the suffix of a generated name at random.
  expect_same_shape(f["response"]["body"], body, "body", {"name"});
  const std::string name = body["metadata"]["name"];
  EXPECT_EQ(name.rfind("csr-", 0), 0u);
  EXPECT_EQ(name.size(), 9u);
}

TEST_F(DevapiFixtures, DeniedCsrMatches) {
  // The recording's denied CSR is a serving CSR named csr-serving-testnode1-denied-...: create
  // it from the denied watch's request, deny it like kubectl, then GET.
  const ordered_json watch = fixture("watch-csr-denied.json");
  const ordered_json added =
      ordered_json::parse(testing::read_text(kApi / "watch-csr-denied.jsonl")
                              .substr(0, testing::read_text(kApi / "watch-csr-denied.jsonl").find('\n')));
  ordered_json create = ordered_json::object();
  create["apiVersion"] = "certificates.k8s.io/v1";
  create["kind"] = "CertificateSigningRequest";
  create["metadata"] = ordered_json{{"name", added["object"]["metadata"]["name"]}};
  create["spec"] = ordered_json{{"request", added["object"]["spec"]["request"]},
                                {"signerName", added["object"]["spec"]["signerName"]},
                                {"usages", added["object"]["spec"]["usages"]}};
  ordered_json request = fixture("csr-create-201-kubelet-serving.json")["request"];
  request["body_raw"] = create.dump();
  EXPECT_EQ(testing::parse_http_response(send(request, Auth::Node)).status, 201);
  server_->approve(added["object"]["metadata"]["name"], false);
  check("csr-get-denied.json", Auth::Node, false);
  (void)watch;
}

TEST_F(DevapiFixtures, WatchFromBeforeCreationDeliversAddedApprovedIssuedInChunks) {
  const ordered_json w = fixture("watch-csr-bootstrap-ec.json");
  std::unique_ptr<testing::RawHttps> conn;
  send(w["request"], Auth::AsRecorded, 200ms, &conn);
  check("csr-create-201.json", Auth::AsRecorded, false);
  std::string raw;
  for (int i = 0; i < 100; ++i) {
    raw = conn->read_response(50ms);
    if (testing::parse_http_response(raw).chunks.size() >= 3) break;
  }
  const HttpMessage got = testing::parse_http_response(raw);
  const HttpMessage want =
      testing::parse_http_response(testing::read_text(kApi / "watch-csr-bootstrap-ec.http-raw.txt"));
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(header_names(got.headers), header_names(want.headers));
  ASSERT_EQ(got.chunks.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(got.chunks[i].back(), '\n') << "one JSON event per chunk, ending in a newline";
    expect_same_shape(ordered_json::parse(want.chunks[i]), ordered_json::parse(got.chunks[i]),
                      "event " + std::to_string(i));
  }
  EXPECT_FALSE(got.complete) << "the watch stays open";
}

TEST_F(DevapiFixtures, WatchWithTimeoutSecondsEndsWithTheZeroChunk) {
  check("csr-create-201.json", Auth::AsRecorded, false);
  ordered_json request = fixture("watch-csr-timeoutseconds-2.json")["request"];
  const auto t0 = std::chrono::steady_clock::now();
  const std::string raw = send(request, Auth::AsRecorded, 5s);
  const HttpMessage got = testing::parse_http_response(raw);
  const HttpMessage want =
      testing::parse_http_response(testing::read_text(kApi / "watch-csr-timeoutseconds-2.http-raw.txt"));
  EXPECT_TRUE(got.complete);
  EXPECT_EQ(got.chunks.size(), want.chunks.size());
  EXPECT_EQ(header_names(got.headers), header_names(want.headers));
  EXPECT_EQ(raw.substr(raw.size() - 5), "0\r\n\r\n");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1900ms);
}

TEST_F(DevapiFixtures, WatchFromACompactedResourceVersionIsOneErrorEvent) {
  Options o;
  o.watch_cache_events = 2;
  o.initial_resource_version = 280;  // so the recorded resourceVersion 252 is older than the window
  start(o);
  check("csr-create-201.json", Auth::AsRecorded, false);
  wait_for([&] { return server_->list_csrs().at(0)["status"].contains("certificate"); });
  const ordered_json request = fixture("watch-csr-rv-too-old.json")["request"];
  const HttpMessage got = testing::parse_http_response(send(request, Auth::AsRecorded, 5s));
  const HttpMessage want =
      testing::parse_http_response(testing::read_text(kApi / "watch-csr-rv-too-old.http-raw.txt"));
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(got.complete);
  ASSERT_EQ(got.chunks.size(), 1u);
  ordered_json ev = ordered_json::parse(got.chunks[0]);
  ordered_json expected = ordered_json::parse(want.chunks[0]);
  // "too old resource version: 252 (283)": the numbers are this server's.
  EXPECT_EQ(ev["object"]["message"].get<std::string>().rfind("too old resource version: 252 (", 0), 0u)
      << ev.dump();
  ev["object"]["message"] = "";
  expected["object"]["message"] = "";
  EXPECT_EQ(ev, expected);
}

TEST_F(DevapiFixtures, WatchFromZeroStartsWithASyntheticAdded) {
  check("csr-create-201.json", Auth::AsRecorded, false);
  wait_for([&] { return server_->list_csrs().at(0)["status"].contains("certificate"); });
  const ordered_json request = fixture("watch-csr-rv0.json")["request"];
  std::unique_ptr<testing::RawHttps> conn;
  const HttpMessage got = testing::parse_http_response(send(request, Auth::AsRecorded, 300ms, &conn));
  const HttpMessage want =
      testing::parse_http_response(testing::read_text(kApi / "watch-csr-rv0.http-raw.txt"));
  ASSERT_EQ(got.chunks.size(), 1u);
  expect_same_shape(ordered_json::parse(want.chunks[0]), ordered_json::parse(got.chunks[0]), "event");
}

TEST_F(DevapiFixtures, ListWithFieldSelectorMatches) {
  check("csr-create-201.json", Auth::AsRecorded, false);
  wait_for([&] { return server_->list_csrs().at(0)["status"].contains("certificate"); });
  const ordered_json f = fixture("csr-list-fieldselector-200.json");
  const HttpMessage got = testing::parse_http_response(send(f["request"], Auth::AsRecorded));
  EXPECT_EQ(got.status, 200);
  const ordered_json body = ordered_json::parse(got.body);
  EXPECT_EQ(body["kind"], "CertificateSigningRequestList");
  ASSERT_EQ(body["items"].size(), 1u);
}

}  // namespace
}  // namespace kcd::devapi

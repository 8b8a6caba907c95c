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

  // Node: system:node:testnode1 (first capture); N1: system:node:n1, Admin: kubernetes-admin
  // (system:masters), Approver: devapi's approver identity, NoRbac: an identity without any
  // binding (second capture, all client certificates).
  enum class Auth { AsRecorded, Node, ExpiredNode, UnknownCaNode, N1, Admin, Approver, NoRbac };

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
    if (auth == Auth::N1 || auth == Auth::Admin || auth == Auth::Approver || auth == Auth::NoRbac) {
      const ClientCredential c =
          auth == Auth::Approver ? server_->approver_credential()
          : auth == Auth::N1     ? server_->issue_client_credential("system:node:n1", {"system:nodes"})
          : auth == Auth::Admin  ? server_->issue_client_credential("kubernetes-admin", {"system:masters"})
                                 : server_->issue_client_credential("system:kubelet-certd-norbac");
      cert = c.cert_pem;
      key = c.key_pem;
    } else if (auth == Auth::Node) {
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

  // Replays `file` and compares with its recorded response. `replace`: text in the recorded
  // URL and bodies that is this server's (a generated name, a resourceVersion) instead.
  // Returns the body devapi answered with.
  ordered_json check(const std::string& file, Auth auth, bool exact_body,
                     const std::set<std::string>& also_dynamic = {},
                     const std::vector<std::pair<std::string, std::string>>& replace = {}) {
    SCOPED_TRACE(file);
    ordered_json f = fixture(file);
    auto substitute = [&](ordered_json& field) {
      if (!field.is_string()) return;
      std::string text = field;
      for (const auto& [from, to] : replace) {
        for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
          text.replace(pos, from.size(), to);
      }
      field = text;
    };
    substitute(f["request"]["url"]);
    substitute(f["request"]["body_raw"]);
    substitute(f["response"]["body_raw"]);
    if (f["response"]["body_raw"].is_string() && f["response"]["body"].is_object())
      f["response"]["body"] = ordered_json::parse(f["response"]["body_raw"].get<std::string>());
    const HttpMessage got = testing::parse_http_response(send(f["request"], auth));
    const ordered_json& want = f["response"];
    EXPECT_EQ(got.status, want["status"].get<int>()) << got.body;
    EXPECT_EQ(header_names(got.headers), header_names(want["headers"]));
    const ordered_json body = ordered_json::parse(got.body, nullptr, false);
    if (exact_body) {
      EXPECT_EQ(got.body, want["body_raw"].get<std::string>());
    } else {
      expect_same_shape(want["body"], body, "body", also_dynamic);
    }
    return body;
  }

  void wait_for(const std::function<bool()>& cond) {
    for (int i = 0; i < 500 && !cond(); ++i) std::this_thread::sleep_for(5ms);
  }

  // Creates a CSR under `name` with the spec of a recorded one, with the bootstrap token.
  void create_like(const ordered_json& recorded, const std::string& name) {
    ordered_json create = ordered_json::object();
    create["apiVersion"] = "certificates.k8s.io/v1";
    create["kind"] = "CertificateSigningRequest";
    create["metadata"] = ordered_json{{"name", name}};
    create["spec"] = ordered_json{{"request", recorded["spec"]["request"]},
                                  {"signerName", recorded["spec"]["signerName"]},
                                  {"usages", recorded["spec"]["usages"]}};
    ordered_json request = fixture("csr-create-201.json")["request"];
    request["body_raw"] = create.dump();
    EXPECT_EQ(testing::parse_http_response(send(request, Auth::AsRecorded)).status, 201);
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

// Pages: limit=2 of 3 CSRs answers 2 items, a continue token and remainingItemCount 1, in the
// recorded shape; the token gives the rest at the first page's resourceVersion; a token from
// before a compaction is 410 Expired with the recorded message and a fresh token.
TEST_F(DevapiFixtures, ListsInPagesAndAnExpiredContinueIsGone) {
  Options o;
  o.watch_cache_events = 2;
  start(o);
  const ordered_json pending = fixture("csr-get-pending.json")["response"]["body"];
  for (const char* name : {"page-a", "page-b", "page-c"}) create_like(pending, name);
  const ordered_json f = fixture("csr-list-200-paginated-limit2.json");
  const HttpMessage first = testing::parse_http_response(send(f["request"], Auth::AsRecorded));
  ASSERT_EQ(first.status, 200) << first.body;
  const ordered_json page1 = ordered_json::parse(first.body);
  std::vector<std::string> meta_keys, want_keys;
  for (auto it = page1["metadata"].begin(); it != page1["metadata"].end(); ++it)
    meta_keys.push_back(it.key());
  const ordered_json& recorded_meta = f["response"]["body"]["metadata"];
  for (auto it = recorded_meta.begin(); it != recorded_meta.end(); ++it) want_keys.push_back(it.key());
  EXPECT_EQ(meta_keys, want_keys);
  ASSERT_EQ(page1["items"].size(), 2u);
  EXPECT_EQ(page1["items"][0]["metadata"]["name"], "page-a");
  EXPECT_EQ(page1["metadata"]["remainingItemCount"], 1);
  const std::string token = page1["metadata"]["continue"];
  // The recorded token's form: base64url, no padding, of
  // {"v":"meta.k8s.io/v1","rv":N,"start":"page-b\u0000"}.
  EXPECT_EQ(token.find_first_of("+/="), std::string::npos) << token;

  ordered_json next = f["request"];
  next["url"] = "/apis/certificates.k8s.io/v1/certificatesigningrequests?limit=2&continue=" + token;
  const HttpMessage second = testing::parse_http_response(send(next, Auth::AsRecorded));
  ASSERT_EQ(second.status, 200) << second.body;
  const ordered_json page2 = ordered_json::parse(second.body);
  ASSERT_EQ(page2["items"].size(), 1u);
  EXPECT_EQ(page2["items"][0]["metadata"]["name"], "page-c");
  EXPECT_FALSE(page2["metadata"].contains("continue"));
  EXPECT_EQ(page2["metadata"]["resourceVersion"], page1["metadata"]["resourceVersion"]);

  // The approvals and issuances of three CSRs move the window of 2 events well past the token.
  for (const char* name : {"page-a", "page-b", "page-c"}) server_->approve(name, true);
  wait_for([&] {
    for (const auto& c : server_->list_csrs())
      if (!c["status"].contains("certificate")) return false;
    return true;
  });
  const ordered_json gone = fixture("csr-list-410-continue-expired.json");
  const HttpMessage expired = testing::parse_http_response(send(next, Auth::AsRecorded));
  EXPECT_EQ(expired.status, 410);
  expect_same_shape(gone["response"]["body"], ordered_json::parse(expired.body), "body", {"continue"});
}

// --- second capture: nodes, leases, events, the serving-CSR approver ---

// The approval subresource records a server-side-apply entry devapi does not keep.
const std::set<std::string> kManaged = {"managedFields"};

TEST_F(DevapiFixtures, NodesMatch) {
  check("node-get-404-missing-as-node.json", Auth::N1, true);
  check("node-create-201-as-node.json", Auth::N1, false);
  ASSERT_TRUE(server_->create_node("n2"));
  EXPECT_FALSE(server_->create_node("n2"));
  // node-lifecycle removes the not-ready taint, the ttl controller annotates.
  wait_for([&] {
    for (const auto& n : server_->list_objects("nodes")) {
      if (!n["metadata"].value("annotations", json::object()).contains("node.alpha.kubernetes.io/ttl"))
        return false;
    }
    return true;
  });
  check("node-get-own-200-as-node.json", Auth::N1, false);
  check("node-get-other-200-as-node.json", Auth::N1, false);
  check("node-list-fieldselector-200-as-node.json", Auth::N1, false);
  // Merge patch: the list is replaced; strategic merge: merged by type; a no-op keeps the version.
  auto got = check("node-status-patch-200-merge-as-admin.json", Auth::Admin, false);
  EXPECT_EQ(got["status"]["addresses"].size(), 2u);
  got = check("node-status-patch-200-merge-replaces-list-as-admin.json", Auth::Admin, false);
  EXPECT_EQ(got["status"]["addresses"].size(), 1u);
  got = check("node-status-patch-200-strategic-as-admin.json", Auth::Admin, false);
  EXPECT_EQ(got["status"]["addresses"].size(), 2u);
  const std::string version = got["metadata"]["resourceVersion"];
  got = check("node-status-patch-200-strategic-noop-as-admin.json", Auth::Admin, false);
  EXPECT_EQ(got["metadata"]["resourceVersion"], version);
  check("forbidden-403-node-patch-other-node-status.json", Auth::N1, true);
  check("node-status-patch-200-own-as-node.json", Auth::N1, false);
  check("node-list-fieldselector-200-as-approver.json", Auth::Approver, false);
}

TEST_F(DevapiFixtures, NodeAddressesThroughTheInProcessAdmin) {
  ASSERT_TRUE(server_->create_node("n1"));
  EXPECT_EQ(server_->set_node_addresses("n1", {{"InternalIP", "10.0.0.5"}, {"Hostname", "n1"}}), 200);
  EXPECT_EQ(server_->patch_node_status(
                "n1", {{"status", {{"addresses", {{{"type", "Hostname"}, {"address", "x"}}}}}}}, true),
            200);
  const auto nodes = server_->list_objects("nodes");
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0]["status"]["addresses"],
            json::parse(R"([{"type":"InternalIP","address":"10.0.0.5"},{"type":"Hostname","address":"x"}])"));
  EXPECT_EQ(server_->set_node_addresses("n9", {}), 404);
}

TEST_F(DevapiFixtures, NodeWatchAsApproverSeesRegistrationAndEffectivePatches) {
  const ordered_json w = fixture("watch-node-fieldselector-as-approver.json");
  std::unique_ptr<testing::RawHttps> conn;
  send(w["request"], Auth::Approver, 200ms, &conn);
  check("node-create-201-as-node.json", Auth::N1, false);
  wait_for([&] {
    return server_->list_objects("nodes").at(0)["metadata"].value("annotations", json::object()).size() == 2;
  });
  check("node-status-patch-200-merge-as-admin.json", Auth::Admin, false);
  check("node-status-patch-200-merge-replaces-list-as-admin.json", Auth::Admin, false);
  check("node-status-patch-200-strategic-as-admin.json", Auth::Admin, false);
  check("node-status-patch-200-strategic-noop-as-admin.json", Auth::Admin, false);
  check("node-status-patch-200-own-as-node.json", Auth::N1, false);
  std::string raw;
  for (int i = 0; i < 100; ++i) {
    raw = conn->read_response(50ms);
    if (testing::parse_http_response(raw).chunks.size() >= 7) break;
  }
  const HttpMessage got = testing::parse_http_response(raw);
  const HttpMessage want = testing::parse_http_response(
      testing::read_text(kApi / "watch-node-fieldselector-as-approver.http-raw.txt"));
  EXPECT_EQ(header_names(got.headers), header_names(want.headers));
  // ADDED, taint removed, ttl annotation, three effective admin patches (not the no-op), Ready.
  ASSERT_EQ(got.chunks.size(), 7u);
  for (std::size_t i = 0; i < 7; ++i) {
    expect_same_shape(ordered_json::parse(want.chunks[i]), ordered_json::parse(got.chunks[i]),
                      "event " + std::to_string(i), {});
  }
}

TEST_F(DevapiFixtures, LeasesMatch) {
  check("lease-get-404-missing.json", Auth::Approver, true);
  check("forbidden-403-lease-create-no-rbac.json", Auth::NoRbac, true);
  const auto created = check("lease-create-201.json", Auth::Approver, false);
  const std::string created_version = created["metadata"]["resourceVersion"];
  check("forbidden-403-lease-get-no-rbac.json", Auth::NoRbac, true);
  check("forbidden-403-lease-get-as-node-kube-system.json", Auth::N1, true);
  const auto got = check("lease-get-200.json", Auth::Approver, false);
  EXPECT_EQ(got["spec"]["renewTime"], "2026-12-02T07:28:07.215931Z") << "MicroTime round-trips";
  // The recorded update carries the recorded create's resourceVersion (278): ours instead.
  const auto updated =
      check("lease-update-200.json", Auth::Approver, false, {},
            {{"\"resourceVersion\": \"278\"", "\"resourceVersion\": \"" + created_version + "\""}});
  EXPECT_NE(updated["metadata"]["resourceVersion"], created_version);
  EXPECT_EQ(
      updated["spec"]["renewTime"],
      ordered_json::parse(
          fixture("lease-update-200.json")["request"]["body_raw"].get<std::string>())["spec"]["renewTime"]);
  check("lease-update-409-conflict.json", Auth::Approver, true, {},
        {{"\"resourceVersion\": \"278\"", "\"resourceVersion\": \"" + created_version + "\""}});
  check("lease-create-409-alreadyexists.json", Auth::Approver, true);
  EXPECT_EQ(server_->list_objects("leases").size(), 1u);
}

TEST_F(DevapiFixtures, EventsMatchAndStayQueryable) {
  check("event-create-201-as-node.json", Auth::N1, false);
  check("event-patch-200-count-as-node.json", Auth::N1, false);
  check("event-create-403-events-k8s-io-as-node.json", Auth::N1, true);
  check("event-create-422-kube-system-node-object-as-node.json", Auth::N1, true);
  check("event-create-201-kube-system-as-node.json", Auth::N1, false);
  check("event-create-201-about-other-node-as-node.json", Auth::N1, false);
  check("forbidden-403-node-list-events.json", Auth::N1, true);
  check("event-create-201-csr-as-approver.json", Auth::Approver, false);
  check("event-create-201-events-k8s-io-csr-as-approver.json", Auth::Approver, false);
  const auto events = server_->list_objects("events");
  ASSERT_EQ(events.size(), 5u);
  int counted = 0;
  for (const auto& e : events) {
    if (e["metadata"]["name"] == "n1.18ed5f455f6d98c1") {
      EXPECT_EQ(e["count"], 2);
      ++counted;
    }
  }
  EXPECT_EQ(counted, 1);
  // The admin reads them through the API too.
  ordered_json list = fixture("forbidden-403-node-list-events.json")["request"];
  const HttpMessage got = testing::parse_http_response(send(list, Auth::Admin));
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(ordered_json::parse(got.body)["items"].size(), 4u);  // default's, through either group
}

TEST_F(DevapiFixtures, ApproverApprovesAndDeniesServingCsrsOnly) {
  Options o;  // the built-in serving approver is off by default: the approver must decide
  start(o);
  const auto created = check("csr-create-201-kubelet-serving-as-node-n1.json", Auth::N1, false, {"name"});
  const std::string name = created["metadata"]["name"];
  const std::string version = created["metadata"]["resourceVersion"];
  std::this_thread::sleep_for(50ms);
  const std::vector<std::pair<std::string, std::string>> ours = {
      {"csr-qpn44", name}, {"\"resourceVersion\": \"280\"", "\"resourceVersion\": \"" + version + "\""}};
  check("csr-list-signername-kubelet-serving-200-as-approver.json", Auth::Approver, false, {"name"});
  const auto approved = check("csr-approval-200-as-approver.json", Auth::Approver, false, kManaged, ours);
  EXPECT_EQ(approved["status"]["conditions"][0]["reason"], "KubeletCertdApprove");
  check("csr-approval-409-conflict-stale-rv.json", Auth::Approver, true, {}, ours);
  wait_for([&] {
    for (const auto& c : server_->list_csrs()) {
      if (c["metadata"]["name"] == name) return c["status"].contains("certificate");
    }
    return false;
  });
  check("csr-get-approved-issued-kubelet-serving-as-approver.json", Auth::Approver, false, kManaged, ours);

  const auto bad = check("csr-create-201-kubelet-serving-bad-ip-as-node-n1.json", Auth::N1, false, {"name"});
  const std::string bad_name = bad["metadata"]["name"];
  const ordered_json deny = fixture("csr-deny-200-as-approver.json");
  const std::string recorded_bad = deny["request"]["url"].get<std::string>().substr(
      std::string("/apis/certificates.k8s.io/v1/certificatesigningrequests/").size(), 9);
  const std::string recorded_bad_rv =
      ordered_json::parse(deny["request"]["body_raw"].get<std::string>())["metadata"]["resourceVersion"];
  check("csr-deny-200-as-approver.json", Auth::Approver, false, kManaged,
        {{recorded_bad, bad_name},
         {"\"resourceVersion\": \"" + recorded_bad_rv + "\"",
          "\"resourceVersion\": \"" + bad["metadata"]["resourceVersion"].get<std::string>() + "\""}});
  std::this_thread::sleep_for(50ms);
  for (const auto& c : server_->list_csrs()) {
    if (c["metadata"]["name"] == bad_name) {
      EXPECT_FALSE(c["status"].contains("certificate"));
    }
  }
}

TEST_F(DevapiFixtures, ApproverWatchBySignerFromTheListVersionReplaysNothingOlder) {
  const auto created = check("csr-create-201-kubelet-serving-as-node-n1.json", Auth::N1, false, {"name"});
  const std::string name = created["metadata"]["name"];
  // A client CSR the signer selector must leave out.
  check("csr-create-201.json", Auth::AsRecorded, false);
  const auto list =
      check("csr-list-signername-kubelet-serving-200-as-approver.json", Auth::Approver, false, {"name"});
  const std::string list_version = list["metadata"]["resourceVersion"];
  ordered_json w = fixture("watch-csr-signername-kubelet-serving-as-approver.json");
  std::string url = w["request"]["url"];
  url.replace(url.find("resourceVersion=280"), 19, "resourceVersion=" + list_version);
  w["request"]["url"] = url;
  std::unique_ptr<testing::RawHttps> conn;
  send(w["request"], Auth::Approver, 200ms, &conn);
  const std::string version = server_->list_csrs().at(0)["metadata"]["name"] == name
                                  ? server_->list_csrs().at(0)["metadata"]["resourceVersion"]
                                  : server_->list_csrs().at(1)["metadata"]["resourceVersion"];
  check("csr-approval-200-as-approver.json", Auth::Approver, false, kManaged,
        {{"csr-qpn44", name}, {"\"resourceVersion\": \"280\"", "\"resourceVersion\": \"" + version + "\""}});
  wait_for([&] {
    for (const auto& c : server_->list_csrs()) {
      if (c["metadata"]["name"] == name) return c["status"].contains("certificate");
    }
    return false;
  });
  const auto bad = check("csr-create-201-kubelet-serving-bad-ip-as-node-n1.json", Auth::N1, false, {"name"});
  server_->approve(bad["metadata"]["name"], false);
  std::string raw;
  for (int i = 0; i < 100; ++i) {
    raw = conn->read_response(50ms);
    if (testing::parse_http_response(raw).chunks.size() >= 4) break;
  }
  const HttpMessage got = testing::parse_http_response(raw);
  const HttpMessage want = testing::parse_http_response(
      testing::read_text(kApi / "watch-csr-signername-kubelet-serving-as-approver.http-raw.txt"));
  EXPECT_EQ(header_names(got.headers), header_names(want.headers));
  // MODIFIED (Approved), MODIFIED (certificate), ADDED (the bad-IP CSR), MODIFIED (Denied):
  // neither the listed pending CSR nor the client CSR.
  ASSERT_EQ(got.chunks.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const ordered_json g = ordered_json::parse(got.chunks[i]);
    const ordered_json e = ordered_json::parse(want.chunks[i]);
    EXPECT_EQ(g["type"], e["type"]) << i;
    EXPECT_EQ(g["object"]["spec"]["signerName"], "kubernetes.io/kubelet-serving");
  }
  EXPECT_FALSE(got.complete);
}

TEST_F(DevapiFixtures, ApproverIsRefusedOtherSignersInTheRecordedOrder) {
  // node-csr-n4: usages without key encipherment, left pending; node-csr-n3: auto-approved.
  const ordered_json refused = fixture("forbidden-403-approver-approve-kubelet-client-signer.json");
  const ordered_json duplicate = fixture("csr-approval-422-duplicate-approved-condition.json");
  create_like(ordered_json::parse(refused["request"]["body_raw"].get<std::string>()),
              "node-csr-n4-1796196551");
  create_like(ordered_json::parse(duplicate["request"]["body_raw"].get<std::string>()),
              "node-csr-n3-1796196529");
  std::string n4_rv, n3_rv;
  wait_for([&] {
    for (const auto& c : server_->list_csrs()) {
      if (c["metadata"]["name"] == "node-csr-n3-1796196529" && c["status"].contains("certificate"))
        return true;
    }
    return false;
  });
  for (const auto& c : server_->list_csrs()) {
    (c["metadata"]["name"] == "node-csr-n4-1796196551" ? n4_rv : n3_rv) = c["metadata"]["resourceVersion"];
  }
  check("csr-get-pending-kubelet-client-as-approver.json", Auth::Approver, false);
  const auto rv = [](const std::string& from, const std::string& to) {
    return std::pair{"\"resourceVersion\": \"" + from + "\"", "\"resourceVersion\": \"" + to + "\""};
  };
  check("forbidden-403-approver-approve-kubelet-client-signer.json", Auth::Approver, true, {},
        {rv("288", n4_rv)});
  check("forbidden-403-approver-deny-kubelet-client-signer.json", Auth::Approver, true, {},
        {rv("288", n4_rv)});
  check("csr-approval-422-duplicate-approved-condition.json", Auth::Approver, true, {}, {rv("287", n3_rv)});
  // A stale copy gets 409 before the signer's 403 and before validation's 422.
  check("csr-approval-409-stale-rv-before-signer-403.json", Auth::Approver, true);
  check("csr-approval-409-stale-rv-before-422-duplicate.json", Auth::Approver, true);
  for (const auto& c : server_->list_csrs()) {
    if (c["metadata"]["name"] == "node-csr-n4-1796196551") {
      EXPECT_FALSE(c["status"].contains("conditions"));
    }
  }
}

}  // namespace
}  // namespace kcd::devapi

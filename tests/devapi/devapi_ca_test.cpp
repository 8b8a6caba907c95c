// devapi's kube-public/cluster-info (shape as recorded, the bootstrapsigner's JWS, who may read
// it) and the cluster CA rotated at runtime as kubeadm's manual procedure does it: after each
// step, which client certificates are accepted, which CA signs a new CSR, which CA the serving
// certificate chains to, and what cluster-info says.
#include "base/base64.hpp"
#include "base/files.hpp"
#include "config/cluster_info.hpp"
#include "rotation/certificate.hpp"
#include "rotation/key.hpp"
#include "tests/devapi/authority.hpp"
#include "tests/devapi/cluster_api.hpp"
#include "tests/devapi/server.hpp"
#include "tests/support/must.hpp"
#include "tests/support/raw_https.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/test_ca.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

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
const std::string kClusterInfoPath = "/api/v1/namespaces/kube-public/configmaps/cluster-info";

ordered_json fixture(const std::string& name) {
  return ordered_json::parse(testing::read_text(kApi / name));
}

std::vector<std::string> keys(const ordered_json& o) {
  std::vector<std::string> out;
  for (auto it = o.begin(); it != o.end(); ++it) out.push_back(it.key());
  return out;
}

// Does `cert_pem` verify against `ca_pem` alone, now?
bool chains_to(const std::string& cert_pem, const std::string& ca_pem) {
  auto cert = testing::must(rotation::parse_certificates_pem(cert_pem, "certificate"));
  auto ca = testing::must(rotation::parse_certificates_pem(ca_pem, "CA"));
  ossl::X509StorePtr store(X509_STORE_new());
  for (auto& c : ca) X509_STORE_add_cert(store.get(), c.get());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.front().get(), nullptr);
  const bool ok = X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();
  return ok;
}

std::size_t count_certificates(const std::string& pem) {
  return testing::must(rotation::parse_certificates_pem(pem, "bundle", rotation::kMaxBundleCertificates))
      .size();
}

class DevapiCa : public ::testing::Test {
 protected:
  void SetUp() override { start(); }

  void start() {
    if (server_) server_->stop();
    Options o;
    o.state_dir = tmp_ / "devapi";
    o.bootstrap_tokens = {kToken};
    server_ = std::make_unique<Server>(o);
    server_->start();
  }

  // A client credential issued by the CA at `index` of the bundle persisted in cas.json.
  ClientCredential credential_from(std::size_t index, const std::string& cn = "system:node:testnode1") {
    const json state = json::parse(testing::read_text(tmp_ / "devapi" / "cas.json"));
    const auto ca = testing::TestCa::load(state["cas"].at(index)["cert"].get<std::string>(),
                                          state["cas"].at(index)["key"].get<std::string>());
    auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
    testing::CertSpec spec;
    spec.subject = {cn, {"system:nodes"}};
    spec.ext_key_usages = {"client auth"};
    spec.not_before = std::chrono::system_clock::now() - 1h;
    spec.not_after = std::chrono::system_clock::now() + 1h;
    return {testing::to_pem(ca.issue(key.get(), spec).get()), rotation::private_key_to_pem(key.get())};
  }

  // One request over a fresh connection that trusts `trust` (the bundle when empty).
  HttpMessage request(const std::string& method, const std::string& path, const ClientCredential& client = {},
                      const std::string& bearer = "", const std::string& body = "",
                      const std::string& trust = "") {
    std::vector<std::pair<std::string, std::string>> headers = {{"Accept", "application/json"}};
    if (!bearer.empty()) headers.emplace_back("Authorization", "Bearer " + bearer);
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    testing::RawHttps conn(server_->port(), trust.empty() ? server_->bundle_pem() : trust, client.cert_pem,
                           client.key_pem);
    conn.send(testing::http_request(method, path, server_->port(), headers, body));
    return testing::parse_http_response(conn.read_response(5s));
  }

  // Who the API server takes a client certificate for: 200 (a node lists CSRs) or 401.
  int status_as(const ClientCredential& client) {
    return request("GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests", client).status;
  }

  ordered_json cluster_info() {
    const HttpMessage got = request("GET", kClusterInfoPath);
    EXPECT_EQ(got.status, 200) << got.body;
    return ordered_json::parse(got.body);
  }

  // The bundle that cluster-info names, checked against its JWS on the way.
  std::string cluster_info_bundle() {
    const ordered_json cm = cluster_info();
    auto info = testing::must(
        config::parse_cluster_info(cm["data"].get<std::map<std::string, std::string>>(), "cluster-info"));
    EXPECT_TRUE(config::verify_cluster_info(info, *config::parse_bootstrap_token(kToken), "cluster-info"));
    EXPECT_EQ(info.server, server_->url());
    return info.ca_pem;
  }

  // Creates a kubelet client CSR as the bootstrap token (auto-approved) and returns its
  // certificate once signed.
  std::string signed_certificate(const std::string& name) {
    ordered_json create =
        ordered_json::parse(fixture("csr-create-201.json")["request"]["body_raw"].get<std::string>());
    create["metadata"] = ordered_json{{"name", name}};
    const HttpMessage created =
        request("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", {}, kToken, create.dump());
    EXPECT_EQ(created.status, 201) << created.body;
    for (int i = 0; i < 500; ++i) {
      for (const auto& c : server_->list_csrs()) {
        if (c["metadata"]["name"] == name && c["status"].contains("certificate"))
          return *base64_decode(c["status"]["certificate"].get<std::string>());
      }
      std::this_thread::sleep_for(5ms);
    }
    ADD_FAILURE() << "CSR " << name << " was not signed";
    return "";
  }

  // Does a TLS client that trusts only `ca_pem` accept devapi's serving certificate?
  bool serving_trusted_by(const std::string& ca_pem) {
    try {
      testing::RawHttps conn(server_->port(), ca_pem);
      return true;
    } catch (const std::runtime_error&) {
      return false;
    }
  }

  testing::TempDir tmp_;
  std::unique_ptr<Server> server_;
};

// --- cluster-info ---

TEST_F(DevapiCa, ClusterInfoHasTheRecordedShape) {
  const ordered_json f = fixture("cluster-info-200-anonymous.json");
  testing::RawHttps conn(server_->port(), server_->bundle_pem());
  std::vector<std::pair<std::string, std::string>> headers;
  for (auto it = f["request"]["headers"].begin(); it != f["request"]["headers"].end(); ++it) {
    if (it.key() != "Host") headers.emplace_back(it.key(), it.value());
  }
  conn.send(testing::http_request("GET", f["request"]["url"], server_->port(), headers));
  const HttpMessage got = testing::parse_http_response(conn.read_response(5s));
  ASSERT_EQ(got.status, 200) << got.body;
  std::vector<std::string> got_headers, want_headers = keys(f["response"]["headers"]);
  for (const auto& [k, v] : got.headers) got_headers.push_back(k);
  EXPECT_EQ(got_headers, want_headers);

  const ordered_json want = f["response"]["body"];
  const ordered_json body = ordered_json::parse(got.body);
  EXPECT_EQ(keys(body), keys(want));
  EXPECT_EQ(body["kind"], "ConfigMap");
  EXPECT_EQ(body["apiVersion"], "v1");
  // The recorded metadata less the annotation `kubectl apply` left (kubeadm creates it plainly).
  std::vector<std::string> want_meta = keys(want["metadata"]);
  want_meta.erase(std::find(want_meta.begin(), want_meta.end(), "annotations"));
  EXPECT_EQ(keys(body["metadata"]), want_meta);
  for (const auto& k : want_meta) EXPECT_EQ(body["metadata"][k].type(), want["metadata"][k].type()) << k;
  EXPECT_EQ(body["metadata"]["name"], "cluster-info");
  EXPECT_EQ(body["metadata"]["namespace"], "kube-public");
  ASSERT_EQ(body["metadata"]["managedFields"].size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(keys(body["metadata"]["managedFields"][i]), keys(want["metadata"]["managedFields"][i]));
  }
  // The bootstrapsigner's entry, exactly as recorded (bar its time).
  EXPECT_EQ(body["metadata"]["managedFields"][1]["manager"], "kube-controller-manager");
  EXPECT_EQ(body["metadata"]["managedFields"][1]["fieldsV1"],
            want["metadata"]["managedFields"][1]["fieldsV1"]);

  // data: the same keys; the kubeconfig is the recorded text with this server's CA and URL.
  EXPECT_EQ(keys(body["data"]), keys(want["data"]));
  std::string recorded = want["data"]["kubeconfig"];
  const auto info = testing::must(
      config::parse_cluster_info(want["data"].get<std::map<std::string, std::string>>(), "recording"));
  recorded.replace(recorded.find(base64_encode(info.ca_pem)), base64_encode(info.ca_pem).size(),
                   base64_encode(server_->bundle_pem()));
  recorded.replace(recorded.find(info.server), info.server.size(), server_->url());
  EXPECT_EQ(body["data"]["kubeconfig"], recorded);
  EXPECT_EQ(body["data"]["kubeconfig"], cluster_info_kubeconfig(server_->url(), server_->bundle_pem()));
  EXPECT_EQ(cluster_info_bundle(), server_->bundle_pem());
}

TEST_F(DevapiCa, ClusterInfoJwsVerifiesWithTheBootstrapTokenOnly) {
  const ordered_json cm = cluster_info();
  const auto info = testing::must(
      config::parse_cluster_info(cm["data"].get<std::map<std::string, std::string>>(), "cluster-info"));
  EXPECT_EQ(cm["data"]["jws-kubeconfig-abcdef"],
            config::detached_jws(cm["data"]["kubeconfig"].get<std::string>(),
                                 *config::parse_bootstrap_token(kToken)));
  EXPECT_TRUE(config::verify_cluster_info(info, *config::parse_bootstrap_token(kToken), "cluster-info"));
  EXPECT_FALSE(config::verify_cluster_info(info, *config::parse_bootstrap_token("abcdef.fedcba9876543210"),
                                           "cluster-info"));
  EXPECT_FALSE(config::verify_cluster_info(info, *config::parse_bootstrap_token("ghijkl.0123456789abcdef"),
                                           "cluster-info"));
}

TEST_F(DevapiCa, OnlyAnonymousAndTheAdminMayReadClusterInfo) {
  const std::string tail =
      " cannot get resource \\\"configmaps\\\" in API group \\\"\\\" in the namespace "
      "\\\"kube-public\\\"";
  auto forbidden = [&](const std::string& user, const std::string& why) {
    return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
           "\"configmaps \\\"cluster-info\\\" is forbidden: User \\\"" +
           user + "\\\"" + tail + why +
           "\",\"reason\":\"Forbidden\",\"details\":{\"name\":\"cluster-info\",\"kind\":\"configmaps\"},"
           "\"code\":403}\n";
  };
  const HttpMessage bootstrap = request("GET", kClusterInfoPath, {}, kToken);
  EXPECT_EQ(bootstrap.status, 403);
  EXPECT_EQ(bootstrap.body, forbidden("system:bootstrap:abcdef", ""));
  EXPECT_EQ(bootstrap.header("X-Content-Type-Options"), "nosniff");
  const HttpMessage node =
      request("GET", kClusterInfoPath, server_->issue_client_credential("system:node:n1", {"system:nodes"}));
  EXPECT_EQ(node.status, 403);
  EXPECT_EQ(node.body,
            forbidden("system:node:n1", ": no relationship found between node 'n1' and this object"));
  EXPECT_EQ(request("GET", kClusterInfoPath, server_->approver_credential()).status, 403);
  EXPECT_EQ(request("GET", kClusterInfoPath, {}, server_->admin_token()).status, 200);
  EXPECT_EQ(request("GET", kClusterInfoPath, {}, "abcdef.wrongwrongwrong1").status, 401);

  // Other configmaps: RBAC refuses anyone but the admin, who gets the NotFound Status.
  const std::string other = "/api/v1/namespaces/kube-public/configmaps/other";
  const HttpMessage anon_other = request("GET", other);
  EXPECT_EQ(anon_other.status, 403);
  EXPECT_NE(anon_other.body.find("configmaps \\\"other\\\" is forbidden: User \\\"system:anonymous\\\""),
            std::string::npos)
      << anon_other.body;
  const HttpMessage admin_other = request("GET", other, {}, server_->admin_token());
  EXPECT_EQ(admin_other.status, 404);
  EXPECT_EQ(admin_other.body,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
            "\"configmaps \\\"other\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"other\","
            "\"kind\":\"configmaps\"},\"code\":404}\n");
  EXPECT_EQ(request("PUT", kClusterInfoPath, {}, server_->admin_token(), "{}").status, 405);
  // Anonymous requests elsewhere keep their answers.
  EXPECT_EQ(request("GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests").status, 403);
  EXPECT_EQ(request("GET", "/version").status, 200);
}

// --- the CA steps ---

TEST_F(DevapiCa, RotationStepByStep) {
  const std::string ca1 = server_->bundle_pem();
  ASSERT_EQ(count_certificates(ca1), 1u);
  EXPECT_EQ(server_->ca_pem(), ca1);
  EXPECT_EQ(server_->serving_ca_pem(), ca1);
  const ClientCredential old_node = credential_from(0);
  EXPECT_EQ(status_as(old_node), 200);
  const std::string rv0 = cluster_info()["metadata"]["resourceVersion"];
  // An existing connection, opened before any step.
  testing::RawHttps early(server_->port(), ca1);

  // 1. add_ca: the bundle grows (old first); both CAs' client certificates are accepted; the
  //    old CA still signs and serves.
  const json added = testing::must(server_->add_ca());
  const std::string bundle = server_->bundle_pem();
  ASSERT_EQ(count_certificates(bundle), 2u);
  EXPECT_EQ(bundle.rfind(ca1, 0), 0u) << "the old CA comes first";
  const std::string ca2 = bundle.substr(ca1.size());
  EXPECT_EQ(added["bundlePem"], bundle);
  EXPECT_EQ(added["signer"], 0);
  EXPECT_EQ(added["serving"], 0);
  const auto info2 = rotation::inspect_certificate(
      testing::must(rotation::parse_certificates_pem(ca2, "new CA")).front().get());
  EXPECT_TRUE(info2.is_ca);
  EXPECT_EQ(info2.key_algorithm, "ECDSA P-256");
  EXPECT_NE(std::find(info2.key_usages.begin(), info2.key_usages.end(), "cert sign"), info2.key_usages.end());
  EXPECT_GT(info2.not_after, std::chrono::system_clock::now() + 24h * 3649);
  EXPECT_EQ(cluster_info_bundle(), bundle);
  const std::string rv1 = cluster_info()["metadata"]["resourceVersion"];
  EXPECT_NE(rv1, rv0);
  const ClientCredential new_node = credential_from(1);
  EXPECT_EQ(status_as(old_node), 200);
  EXPECT_EQ(status_as(new_node), 200);
  EXPECT_TRUE(chains_to(signed_certificate("after-add"), ca1));
  EXPECT_TRUE(serving_trusted_by(ca1));
  EXPECT_FALSE(serving_trusted_by(ca2));
  EXPECT_EQ(testing::read_text(tmp_ / "devapi" / "ca.crt"), bundle);

  // 2. switch_signer: new certificates chain to the new CA only; cluster-info does not change.
  const json switched = testing::must(server_->switch_signer());
  EXPECT_EQ(switched["signer"], 1);
  EXPECT_EQ(server_->ca_pem(), ca2);
  const std::string issued = signed_certificate("after-switch-signer");
  EXPECT_TRUE(chains_to(issued, ca2));
  EXPECT_FALSE(chains_to(issued, ca1));
  EXPECT_TRUE(chains_to(server_->issue_client_credential("x").cert_pem, ca2));
  EXPECT_TRUE(chains_to(server_->approver_credential().cert_pem, ca2));
  EXPECT_EQ(status_as(old_node), 200);
  EXPECT_EQ(status_as(new_node), 200);
  EXPECT_EQ(cluster_info()["metadata"]["resourceVersion"], rv1);
  EXPECT_TRUE(serving_trusted_by(ca1));
  EXPECT_EQ(testing::read_text(tmp_ / "devapi" / "signer-ca.crt"), ca2);

  // 3. switch_serving: new connections get a certificate from the new CA; open ones keep theirs.
  testing::must(server_->switch_serving());
  EXPECT_EQ(server_->serving_ca_pem(), ca2);
  EXPECT_TRUE(serving_trusted_by(ca2));
  EXPECT_FALSE(serving_trusted_by(ca1));
  early.send(testing::http_request("GET", "/version", server_->port(), {}));
  EXPECT_EQ(testing::parse_http_response(early.read_response(5s)).status, 200);
  EXPECT_EQ(cluster_info()["metadata"]["resourceVersion"], rv1);

  // 4. drop_ca: the bundle is the new CA alone; the old CA's client certificates get the
  //    recorded 401 for an unknown CA.
  const json dropped = testing::must(server_->drop_ca());
  EXPECT_EQ(dropped["bundle"].size(), 1u);
  EXPECT_EQ(server_->bundle_pem(), ca2);
  EXPECT_EQ(cluster_info_bundle(), ca2);
  EXPECT_NE(cluster_info()["metadata"]["resourceVersion"], rv1);
  const HttpMessage refused =
      request("GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests", old_node);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.body, fixture("unauthorized-401-unknown-ca-client-cert.json")["response"]["body_raw"]);
  EXPECT_EQ(status_as(new_node), 200);
  EXPECT_TRUE(chains_to(signed_certificate("after-drop"), ca2));
  EXPECT_EQ(testing::read_text(tmp_ / "devapi" / "ca.crt"), ca2);
  const auto kubeconfig = testing::read_text(tmp_ / "devapi" / "bootstrap-kubelet.conf");
  EXPECT_NE(kubeconfig.find(base64_encode(ca2)), std::string::npos);

  // A restarted devapi keeps the rotated CAs.
  start();
  EXPECT_EQ(server_->bundle_pem(), ca2);
  EXPECT_EQ(server_->ca_pem(), ca2);
  EXPECT_TRUE(serving_trusted_by(ca2));
  EXPECT_EQ(status_as(new_node), 200);
}

TEST_F(DevapiCa, StepsOutOfOrderAreRefusedAndChangeNothing) {
  const std::string ca1 = server_->bundle_pem();
  auto refused = [](const Expected<json>& r, const std::string& says) {
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
  };
  refused(server_->drop_ca(), "one CA only");
  EXPECT_TRUE(server_->switch_signer()) << "no-op: the newest CA already signs";
  testing::must(server_->add_ca());
  refused(server_->drop_ca(), "switch_signer first");
  testing::must(server_->switch_signer());
  refused(server_->drop_ca(), "switch_serving first");
  EXPECT_EQ(count_certificates(server_->bundle_pem()), 2u);
  EXPECT_EQ(server_->bundle_pem().rfind(ca1, 0), 0u);
  for (std::size_t n = 2; n < kMaxCas; ++n) testing::must(server_->add_ca());
  const std::string full = server_->bundle_pem();
  EXPECT_EQ(count_certificates(full), kMaxCas);
  refused(server_->add_ca(), "already holds 10 CAs");
  EXPECT_EQ(server_->bundle_pem(), full);
  EXPECT_EQ(cluster_info_bundle(), full);
}

TEST_F(DevapiCa, AdminApiRunsTheSteps) {
  const std::string admin = server_->admin_token();
  const HttpMessage summary = request("GET", "/devapi/v1/ca", {}, admin);
  ASSERT_EQ(summary.status, 200) << summary.body;
  EXPECT_EQ(json::parse(summary.body), server_->ca_summary());

  EXPECT_EQ(request("POST", "/devapi/v1/ca/add", {}, kToken).status, 403);
  EXPECT_EQ(request("POST", "/devapi/v1/ca/add").status, 403);
  EXPECT_EQ(count_certificates(server_->bundle_pem()), 1u);
  EXPECT_EQ(request("GET", "/devapi/v1/ca/add", {}, admin).status, 405);
  EXPECT_EQ(request("POST", "/devapi/v1/ca/rotate-everything", {}, admin).status, 404);

  const HttpMessage added = request("POST", "/devapi/v1/ca/add", {}, admin);
  ASSERT_EQ(added.status, 200) << added.body;
  const json a = json::parse(added.body);
  EXPECT_EQ(a["bundle"].size(), 2u);
  EXPECT_EQ(a["bundlePem"], server_->bundle_pem());
  const HttpMessage conflict = request("POST", "/devapi/v1/ca/drop", {}, admin);
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(json::parse(conflict.body)["reason"], "Conflict");
  EXPECT_NE(conflict.body.find("switch_signer first"), std::string::npos) << conflict.body;
  for (const char* step : {"switch-signer", "switch-serving", "drop"}) {
    const HttpMessage r = request("POST", std::string("/devapi/v1/ca/") + step, {}, admin);
    EXPECT_EQ(r.status, 200) << step << ": " << r.body;
  }
  EXPECT_EQ(server_->ca_summary()["bundle"].size(), 1u);
  EXPECT_EQ(server_->bundle_pem(), server_->serving_ca_pem());
  EXPECT_EQ(server_->bundle_pem(), server_->ca_pem());
}

}  // namespace
}  // namespace kcd::devapi

namespace kcd::devapi {
namespace {

// A state directory from before CA rotation (ca.crt + ca.key) keeps its CA; a cas.json that does
// not parse stops devapi with an error naming it, and nothing is overwritten.
TEST(DevapiAuthority, LoadsAnOlderStateDirAndRefusesABrokenOne) {
  testing::TempDir tmp;
  const auto old = testing::TestCa::create_root("kubernetes");
  testing::must(kcd::write_file_atomic(tmp / "ca.crt", old.cert_pem(), 0644));
  testing::must(kcd::write_file_atomic(tmp / "ca.key", old.key_pem(), 0600));
  const Authority loaded = Authority::load_or_create(tmp.path());
  EXPECT_EQ(loaded.bundle_pem(), old.cert_pem());
  EXPECT_EQ(loaded.signer().key_pem(), old.key_pem());

  testing::must(
      kcd::write_file_atomic(tmp / "cas.json", "{\"cas\": [], \"signer\": 0, \"serving\": 0}", 0600));
  try {
    (void)Authority::load_or_create(tmp.path());
    ADD_FAILURE() << "an empty cas.json was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find((tmp / "cas.json").string() + ": cas: expected 1 to 10 CAs"),
              std::string::npos)
        << e.what();
  }
  testing::must(loaded.save(tmp.path()));
  const std::string saved = testing::read_text(tmp / "cas.json");
  auto broken = json::parse(saved);
  broken["signer"] = 1;
  testing::must(kcd::write_file_atomic(tmp / "cas.json", broken.dump(), 0600));
  EXPECT_THROW((void)Authority::load_or_create(tmp.path()), std::runtime_error);
  EXPECT_EQ(testing::read_text(tmp / "ca.crt"), old.cert_pem());
}

}  // namespace
}  // namespace kcd::devapi

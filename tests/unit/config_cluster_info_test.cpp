// kube-public/cluster-info as kubeadm publishes it (the recording), the bootstrapsigner's
// detached JWS (a vector computed independently with Python's hmac), and kubeadm join's check.
#include "config/cluster_info.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace kcd::config {
namespace {

const BootstrapToken kToken{"abcdef", "0123456789abcdef"};

std::map<std::string, std::string> recorded_data() {
  std::ifstream in(std::string(KCD_FIXTURES_DIR) + "/k8s-api/cluster-info-200-anonymous.json");
  std::stringstream text;
  text << in.rdbuf();
  const auto body = nlohmann::json::parse(text.str()).at("response").at("body");
  return body.at("data").get<std::map<std::string, std::string>>();
}

TEST(ClusterInfo, DetachedJwsMatchesAnIndependentComputation) {
  // python3: header = b64url('{"alg":"HS256","kid":"abcdef"}'); sig = b64url(hmac(secret,
  // header + "." + b64url(content), sha256)).
  EXPECT_EQ(detached_jws("apiVersion: v1\nkind: Config\n", kToken),
            "eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9..vH_kT4yiol-nrAWgjfCYqvum5wsKETXe0S7OOp1VgnE");
}

TEST(ClusterInfo, ReadsTheRecordedConfigMap) {
  const auto data = recorded_data();
  auto info = parse_cluster_info(data, "kube-public/cluster-info");
  ASSERT_TRUE(info) << info.error().format();
  EXPECT_EQ(info->server, "https://127.0.0.1:6443");
  EXPECT_EQ(info->ca_pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  ASSERT_EQ(info->signatures.count("abcdef"), 1u);
  // The recorded signature has the header our signer writes (the secret is redacted there).
  const std::string& recorded = info->signatures.at("abcdef");
  const std::string ours = detached_jws(info->kubeconfig, kToken);
  EXPECT_EQ(recorded.substr(0, recorded.find('.')), ours.substr(0, ours.find('.')));
  EXPECT_EQ(recorded.find(".."), ours.find(".."));
}

TEST(ClusterInfo, VerifiesTheTokensSignatureOnly) {
  auto data = recorded_data();
  data["jws-kubeconfig-abcdef"] = detached_jws(data["kubeconfig"], kToken);
  auto info = parse_cluster_info(data, "cluster-info");
  ASSERT_TRUE(info);
  EXPECT_TRUE(verify_cluster_info(*info, kToken, "cluster-info"));

  const BootstrapToken wrong_secret{"abcdef", "0123456789abcdee"};
  auto bad = verify_cluster_info(*info, wrong_secret, "cluster-info");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().format().find("does not sign data.kubeconfig"), std::string::npos);
  EXPECT_EQ(bad.error().format().find("0123456789abcde"), std::string::npos) << "secret in the error";

  const BootstrapToken other{"zzzzzz", "0123456789abcdef"};
  auto absent = verify_cluster_info(*info, other, "cluster-info");
  ASSERT_FALSE(absent);
  EXPECT_NE(absent.error().format().find("has no signature for bootstrap token \"zzzzzz\""),
            std::string::npos);

  // A changed bundle under the old signature.
  auto tampered = *info;
  tampered.kubeconfig += "# another CA\n";
  EXPECT_FALSE(verify_cluster_info(tampered, kToken, "cluster-info"));
}

TEST(ClusterInfo, RefusesWhatIsNotKubeadmsDocument) {
  EXPECT_FALSE(parse_cluster_info({}, "cm"));
  EXPECT_FALSE(parse_cluster_info({{"kubeconfig", "clusters: []\n"}}, "cm"));
  EXPECT_FALSE(parse_cluster_info({{"kubeconfig", "clusters:\n- cluster:\n    server: https://a\n"}}, "cm"));
  auto bad64 = parse_cluster_info(
      {{"kubeconfig",
        "clusters:\n- cluster:\n    server: https://a\n    certificate-authority-data: '%%%'\n"}},
      "cm");
  ASSERT_FALSE(bad64);
  EXPECT_NE(bad64.error().format().find("not valid base64"), std::string::npos);
  EXPECT_FALSE(parse_cluster_info({{"kubeconfig", "[unclosed\n"}}, "cm"));
}

// Found by the http_response fuzz target: yaml-cpp's operator[] throws on a scalar (and Type()
// on the node an absent key yields), so a kubeconfig of the wrong shape escaped as an exception.
// Every place a mapping is expected gets a scalar, a list or nothing: none throws. Without a usable
// cluster it is an error naming the ConfigMap; a context of the wrong shape is passed over, and the
// first cluster is taken as when there is no current context.
TEST(ClusterInfo, AKubeconfigOfTheWrongShapeIsAnErrorNotAnException) {
  const std::string ok =
      "- name: a\n  cluster:\n    server: https://a\n    certificate-authority-data: QQ==\n";
  const std::vector<std::string> refused = {
      "just a scalar\n",
      "- a\n- list\n",
      "clusters: scalar\n",
      "clusters:\n- scalar\n",  // the fuzzer's reproducer, reduced
      "clusters:\n- [a, b]\n",
      "clusters:\n- cluster: scalar\n",
      "clusters:\n- cluster:\n  - a\n",
      "clusters:\n- cluster:\n    server: [https://a]\n    certificate-authority-data: QQ==\n",
      "clusters:\n- cluster:\n    server: https://a\n    certificate-authority-data: {a: b}\n",
      "clusters:\n" + ok +
          "- name: b\n  cluster: scalar\ncurrent-context: c\n"
          "contexts:\n- name: c\n  context: {cluster: b}\n",
  };
  for (const auto& kc : refused) {
    Expected<ClusterInfo> info = Unexpected(make_error(ErrorKind::Corrupt, "not run"));
    ASSERT_NO_THROW(info = parse_cluster_info({{"kubeconfig", kc}}, "kube-public/cluster-info")) << kc;
    ASSERT_FALSE(info) << kc;
    EXPECT_NE(info.error().format().find("kube-public/cluster-info"), std::string::npos) << kc;
  }
  const std::vector<std::string> first_cluster = {
      "clusters:\n" + ok + "current-context: c\ncontexts: scalar\n",
      "clusters:\n" + ok + "current-context: c\ncontexts:\n- scalar\n",
      "clusters:\n" + ok + "current-context: c\ncontexts:\n- name: c\n",
      "clusters:\n" + ok + "current-context: c\ncontexts:\n- name: c\n  context: x\n",
      "clusters:\n" + ok + "current-context: c\ncontexts:\n- name: c\n  context: {cluster: [a]}\n",
      "clusters:\n" + ok + "- scalar\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: b}\n",
      "clusters:\n" + ok + "current-context: [c]\n",
      "clusters:\n" + ok + "current-context: c\ncontexts:\n- name: c\n  context: {cluster: zz}\n",
  };
  for (const auto& kc : first_cluster) {
    Expected<ClusterInfo> info = Unexpected(make_error(ErrorKind::Corrupt, "not run"));
    ASSERT_NO_THROW(info = parse_cluster_info({{"kubeconfig", kc}}, "kube-public/cluster-info")) << kc;
    ASSERT_TRUE(info) << kc << info.error().format();
    EXPECT_EQ(info->server, "https://a") << kc;
  }
}

TEST(ClusterInfo, TakesTheCurrentContextsClusterWhenThereIsOne) {
  const std::string kc =
      "clusters:\n- name: a\n  cluster:\n    server: https://a\n    certificate-authority-data: QQ==\n"
      "- name: b\n  cluster:\n    server: https://b\n    certificate-authority-data: Qg==\n"
      "contexts:\n- name: c\n  context:\n    cluster: b\ncurrent-context: c\n";
  auto info = parse_cluster_info({{"kubeconfig", kc}}, "cm");
  ASSERT_TRUE(info) << info.error().format();
  EXPECT_EQ(info->server, "https://b");
  EXPECT_EQ(info->ca_pem, "B");
}

TEST(ClusterInfo, BootstrapTokenShape) {
  auto t = parse_bootstrap_token("abcdef.0123456789abcdef");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, "abcdef");
  EXPECT_EQ(t->secret, "0123456789abcdef");
  for (const char* bad : {"", "abcdef", "abcdef.", "ABCDEF.0123456789abcdef", "abcde.0123456789abcdef",
                          "abcdef.0123456789abcdef0", "abcdef.0123456789abcde!"})
    EXPECT_FALSE(parse_bootstrap_token(bad)) << bad;
}

}  // namespace
}  // namespace kcd::config

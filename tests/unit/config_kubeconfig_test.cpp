// Kubeconfig forms that kubeadm and kubectl write, the refusals, and the kubelet's own file.
#include "base/base64.hpp"
#include "config/kubeconfig.hpp"
#include "tests/support/subprocess.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

namespace kcd::config {
namespace {

namespace fs = std::filesystem;

const std::string kCa = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const std::string kToken = "abcdef.0123456789abcdef";

std::string kubeadm_bootstrap() {
  return "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: " + base64_encode(kCa) +
         "\n    server: https://10.0.0.1:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: "
         "kubernetes\n"
         "    user: tls-bootstrap-token-user\n  name: tls-bootstrap-token-user@kubernetes\n"
         "current-context: tls-bootstrap-token-user@kubernetes\nkind: Config\npreferences: {}\nusers:\n"
         "- name: tls-bootstrap-token-user\n  user:\n    token: " +
         kToken + "\n";
}

class Kubeconfig_ : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = tmp_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  testing::TempDir tmp_;
};

TEST_F(Kubeconfig_, ReadsKubeadmBootstrapKubeconfig) {
  auto kc = load_kubeconfig(write("bootstrap-kubelet.conf", kubeadm_bootstrap()));
  ASSERT_TRUE(kc) << kc.error().format();
  EXPECT_EQ(kc->server.text, "https://10.0.0.1:6443");
  EXPECT_EQ(kc->server.port, "6443");
  EXPECT_EQ(kc->ca_pem, kCa);
  EXPECT_FALSE(kc->ca_file);
  EXPECT_EQ(kc->token, kToken);
  EXPECT_EQ(kc->current_context, "tls-bootstrap-token-user@kubernetes");
  EXPECT_EQ(kc->cluster_name, "kubernetes");
  EXPECT_EQ(kc->user_name, "tls-bootstrap-token-user");
  EXPECT_FALSE(kc->client_certificate_file);
}

// The server URL is parsed once, at load: a typo is a configuration error at its position
// (it used to pass the loader and crash the API client later).
TEST_F(Kubeconfig_, ServerUrlTyposAreRefusedAtLoadWithTheirPosition) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"https://host:6443x", "port \"6443x\" is not a number from 1 to 65535"},
      {"https://host:0", "is not a number from 1 to 65535"},
      {"https://host:70000", "is not a number from 1 to 65535"},
      {"https://host:/api", "port \"\" is not a number"},
      {"https://:6443", "has no host"},
      {"https://[::1:6443", "unterminated IPv6 address"},
      {"https://::1:6443", "write an IPv6 address in brackets"},
      {"https://user@host:6443", "user info"},
      {"https://host:6443/?x=1", "queries"},
  };
  for (const auto& [server, why] : bad) {
    std::string text = kubeadm_bootstrap();
    text.replace(text.find("https://10.0.0.1:6443"), std::string("https://10.0.0.1:6443").size(), server);
    auto kc = parse_kubeconfig(text, "/etc/kubernetes/bootstrap-kubelet.conf");
    ASSERT_FALSE(kc) << server;
    EXPECT_THAT(kc.error().format(),
                ::testing::HasSubstr("/etc/kubernetes/bootstrap-kubelet.conf:5:13: cluster.server: "))
        << server;
    EXPECT_THAT(kc.error().format(), ::testing::HasSubstr(why)) << server;
  }
  for (const std::string good :
       {"https://[fd00::1]:6443/prefix/", "https://api.example.com", "https://10.0.0.1:65535"}) {
    std::string text = kubeadm_bootstrap();
    text.replace(text.find("https://10.0.0.1:6443"), std::string("https://10.0.0.1:6443").size(), good);
    auto kc = parse_kubeconfig(text, "/x.conf");
    ASSERT_TRUE(kc) << good << ": " << kc.error().format();
    EXPECT_EQ(kc->server.text, good);
  }
}

TEST_F(Kubeconfig_, ReadsKubeadmKubeletConfWithCertificateFiles) {
  const std::string text =
      "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: " + base64_encode(kCa) +
      "\n    server: https://cp.example:6443\n  name: default-cluster\ncontexts:\n- context:\n    cluster: "
      "default-cluster\n"
      "    namespace: default\n    user: default-auth\n  name: default-context\ncurrent-context: "
      "default-context\n"
      "kind: Config\npreferences: {}\nusers:\n- name: default-auth\n  user:\n"
      "    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n"
      "    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n";
  auto kc = parse_kubeconfig(text, "/etc/kubernetes/kubelet.conf");
  ASSERT_TRUE(kc) << kc.error().format();
  EXPECT_EQ(kc->client_certificate_file, fs::path("/var/lib/kubelet/pki/kubelet-client-current.pem"));
  EXPECT_EQ(kc->client_key_file, fs::path("/var/lib/kubelet/pki/kubelet-client-current.pem"));
  EXPECT_FALSE(kc->token);
}

TEST_F(Kubeconfig_, ResolvesRelativeCaFileAndTokenFileAgainstItsDirectory) {
  write("conf/ca.crt", kCa);
  write("conf/token", kToken + "\n");
  const std::string text =
      "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: "
      "u}\n"
      "clusters:\n- name: k\n  cluster:\n    server: https://[::1]:6443\n    certificate-authority: ca.crt\n"
      "    tls-server-name: kubernetes.default\nusers:\n- name: u\n  user:\n    tokenFile: token\n";
  auto kc = load_kubeconfig(write("conf/kubeconfig", text));
  ASSERT_TRUE(kc) << kc.error().format();
  EXPECT_EQ(kc->ca_pem, kCa);
  EXPECT_EQ(kc->ca_file, tmp_ / "conf/ca.crt");
  EXPECT_EQ(kc->token, kToken);  // trimmed
  EXPECT_EQ(kc->token_file, tmp_ / "conf/token");
  EXPECT_EQ(kc->tls_server_name, "kubernetes.default");
}

TEST_F(Kubeconfig_, ReadsEmbeddedClientCertificateAndKey) {
  const std::string text =
      "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: "
      "u}\n"
      "clusters:\n- name: k\n  cluster:\n    server: https://h:6443\n    certificate-authority-data: " +
      base64_encode(kCa) +
      "\nusers:\n- name: u\n  user:\n    client-certificate-data: " + base64_encode("CERT") +
      "\n    client-key-data: " + base64_encode("KEY") + "\n";
  auto kc = parse_kubeconfig(text, "/x");
  ASSERT_TRUE(kc) << kc.error().format();
  EXPECT_EQ(kc->client_certificate_pem, "CERT");
  EXPECT_EQ(kc->client_key_pem, "KEY");
}

struct Refusal {
  std::string name;
  friend void PrintTo(const Refusal& c, std::ostream* os) { *os << c.name; }
  std::string from, to;  // replace in the bootstrap kubeconfig
  std::string key;
  std::string fragment;
};

class KubeconfigRefusals : public ::testing::TestWithParam<Refusal> {};

TEST_P(KubeconfigRefusals, NameTheFieldAndNeverTheToken) {
  const auto& r = GetParam();
  std::string text = kubeadm_bootstrap();
  const auto pos = text.find(r.from);
  ASSERT_NE(pos, std::string::npos) << r.from;
  text.replace(pos, r.from.size(), r.to);
  auto kc = parse_kubeconfig(text, "/etc/kubernetes/bootstrap-kubelet.conf");
  ASSERT_FALSE(kc) << r.name;
  EXPECT_EQ(kc.error().where.key, r.key) << kc.error().format();
  EXPECT_EQ(kc.error().where.file, "/etc/kubernetes/bootstrap-kubelet.conf");
  EXPECT_NE(kc.error().format().find(r.fragment), std::string::npos) << kc.error().format();
  EXPECT_EQ(kc.error().format().find(kToken), std::string::npos) << "token leaked";
}

INSTANTIATE_TEST_SUITE_P(
    Table, KubeconfigRefusals,
    ::testing::Values(
        Refusal{"InsecureSkipVerify", "    server:", "    insecure-skip-tls-verify: true\n    server:",
                "cluster.insecure-skip-tls-verify", "refused"},
        Refusal{"PlainHttp", "https://10.0.0.1", "http://10.0.0.1", "cluster.server", "not an https:// URL"},
        Refusal{"MissingContext", "current-context: tls-bootstrap-token-user@kubernetes",
                "current-context: other", "current-context", "not defined under contexts"},
        Refusal{"NoCurrentContext", "current-context: tls-bootstrap-token-user@kubernetes", "",
                "current-context", "is not set"},
        Refusal{"BadBase64", "certificate-authority-data: ", "certificate-authority-data: !!notbase64",
                "certificate-authority-data", "not valid base64"},
        Refusal{"ExecPlugin", "    token: " + kToken, "    exec:\n      command: aws", "user.exec",
                "not supported"},
        Refusal{"MissingCaFile", "certificate-authority-data: " + base64_encode(kCa),
                "certificate-authority: /nonexistent/ca.crt", "cluster.certificate-authority", "cannot read"},
        Refusal{"NoCa", "    certificate-authority-data: " + base64_encode(kCa) + "\n", "", "cluster",
                "neither certificate-authority-data nor certificate-authority"}),
    [](const ::testing::TestParamInfo<Refusal>& i) { return i.param.name; });

// The names kubelet writes after TLS bootstrap, laid out by yaml-cpp's emitter.
TEST(KubeletKubeconfig, HasKubeletsNamesAndReadsBack) {
  KubeletKubeconfigSpec spec;
  spec.server = "https://10.0.0.1:6443";
  spec.ca_pem = kCa;
  spec.client_certificate = "/var/lib/kubelet/pki/kubelet-client-current.pem";
  spec.client_key = "/var/lib/kubelet/pki/kubelet-client-current.pem";
  const std::string text = render_kubelet_kubeconfig(spec).value();
  EXPECT_EQ(text,
            "apiVersion: v1\n"
            "clusters:\n"
            "  - cluster:\n"
            "      certificate-authority-data: " +
                base64_encode(kCa) +
                "\n"
                "      server: https://10.0.0.1:6443\n"
                "    name: default-cluster\n"
                "contexts:\n"
                "  - context:\n"
                "      cluster: default-cluster\n"
                "      namespace: default\n"
                "      user: default-auth\n"
                "    name: default-context\n"
                "current-context: default-context\n"
                "kind: Config\n"
                "preferences: {}\n"
                "users:\n"
                "  - name: default-auth\n"
                "    user:\n"
                "      client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n"
                "      client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n");
  auto kc = parse_kubeconfig(text, "/etc/kubernetes/kubelet.conf");
  ASSERT_TRUE(kc) << kc.error().format();
  EXPECT_EQ(kc->server.text, spec.server);
  EXPECT_EQ(kc->ca_pem, kCa);
  EXPECT_EQ(kc->client_certificate_file, spec.client_certificate);
  EXPECT_EQ(kc->client_key_file, spec.client_key);
  EXPECT_EQ(kc->current_context, "default-context");
}

TEST(KubeletKubeconfig, KeepsTheTlsServerName) {
  KubeletKubeconfigSpec spec;
  spec.server = "https://h:6443";
  spec.ca_pem = kCa;
  spec.tls_server_name = "kubernetes";
  spec.client_certificate = "/p/c.pem";
  spec.client_key = "/p/c.pem";
  const std::string text = render_kubelet_kubeconfig(spec).value();
  EXPECT_NE(text.find("      tls-server-name: kubernetes\n"), std::string::npos) << text;
}

// Issue 10, class 7: kubelet.conf comes from an emitter and reads back as meant, whatever the
// paths look like (a path YAML reads as something else was once written unquoted).
TEST(KubeletKubeconfig, PathsYamlWouldMisreadAreQuotedAndReadBackTheSame) {
  for (const std::string dir :
       {"/var/lib/kubelet/pki yes", "/p/a: b", "/p/#x", "/p/'q\"", "/p/\xc3\xbc", "/p/\tt"}) {
    KubeletKubeconfigSpec spec;
    spec.server = "https://[fd00::1]:6443/prefix";
    spec.ca_pem = kCa;
    spec.tls_server_name = "yes";
    spec.client_certificate = dir + "/kubelet-client-current.pem";
    spec.client_key = dir + "/kubelet-client-current.pem";
    auto text = render_kubelet_kubeconfig(spec);
    ASSERT_TRUE(text) << text.error().format();
    auto kc = parse_kubeconfig(*text, "/etc/kubernetes/kubelet.conf");
    ASSERT_TRUE(kc) << kc.error().format() << "\n" << *text;
    EXPECT_EQ(kc->client_certificate_file, spec.client_certificate) << *text;
    EXPECT_EQ(kc->client_key_file, spec.client_key) << *text;
    EXPECT_EQ(kc->server.text, spec.server);
    EXPECT_EQ(kc->tls_server_name, std::optional<std::string>("yes"));
    EXPECT_NE(text->find("tls-server-name: \"yes\""), std::string::npos)
        << "Go's YAML would read yes as true";
  }
}

TEST(KubeconfigLimits, AliasBombIsRefusedWithItsPosition) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) text += (k ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  text += "clusters: []\n";
  auto kc = parse_kubeconfig(text, "/etc/kubernetes/bootstrap-kubelet.conf");
  ASSERT_FALSE(kc);
  EXPECT_EQ(kc.error().kind, ErrorKind::Config);
  EXPECT_THAT(kc.error().format(), ::testing::HasSubstr("/etc/kubernetes/bootstrap-kubelet.conf:"));
  EXPECT_THAT(kc.error().message, ::testing::HasSubstr("over a limit"));
}

TEST(Base64, RoundTripsAndRejectsGarbage) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  }
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_EQ(base64_decode("aGVs\nbG8="), "hello");
  EXPECT_FALSE(base64_decode("aGVsbG8"));
  EXPECT_FALSE(base64_decode("a=Vs"));
  EXPECT_FALSE(base64_decode("aGV*bG8="));
}

}  // namespace
}  // namespace kcd::config

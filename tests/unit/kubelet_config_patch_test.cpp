// The kubelet-config.yaml patcher over real-world shapes: golden files (kubeadm's generated
// file, a commented hand-written file with anchors, flow style, CRLF, unknown future fields),
// then the properties every output must have: idempotent, untouched lines kept byte for byte,
// the intended values when parsed, and malformed input refused with line:column.
//
// KCD_UPDATE_GOLDEN=1 rewrites the *.out.yaml files (review the diff before committing).
#include "kubelet/kubelet_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kcd::kubelet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kDir = fs::path(KCD_FIXTURES_DIR) / "kubelet-config";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

KubeletConfigPatch full_patch(Hardening h = Hardening::Cis) {
  KubeletConfigPatch p;
  p.tls_cert_file = "/var/lib/kubelet/pki/kubelet-server-current.pem";
  p.tls_private_key_file = "/var/lib/kubelet/pki/kubelet-server-current.pem";
  p.client_ca_file = "/etc/kubernetes/pki/ca.crt";
  p.hardening = h;
  p.kubelet_version = Version{1, 30, 0};  // accepts every key the patch writes
  return p;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

PatchResult patch_ok(const std::string& text, const KubeletConfigPatch& p, const std::string& name) {
  auto r = patch_kubelet_config(text, p, name);
  if (!r) ADD_FAILURE() << name << ": " << r.error().format();
  return r ? *r : PatchResult{};
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesTheReviewedOutput) {
  const std::string in = read(kDir / (GetParam() + ".in.yaml"));
  const fs::path out_file = kDir / (GetParam() + ".out.yaml");
  const auto r = patch_ok(in, full_patch(), GetParam() + ".in.yaml");
  ASSERT_FALSE(r.text.empty());
  if (std::getenv("KCD_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(out_file, std::ios::binary) << r.text;
  }
  ASSERT_TRUE(fs::exists(out_file)) << out_file << " missing: run with KCD_UPDATE_GOLDEN=1 and review it";
  EXPECT_EQ(r.text, read(out_file)) << "the patch of " << GetParam() << " changed; diff it against "
                                    << out_file;
  EXPECT_TRUE(r.changed);
  EXPECT_FALSE(r.changes.empty());
}

TEST_P(Golden, SecondRunChangesNothing) {
  const auto first = patch_ok(read(kDir / (GetParam() + ".in.yaml")), full_patch(), GetParam());
  const auto second = patch_ok(first.text, full_patch(), GetParam());
  EXPECT_FALSE(second.changed) << ::testing::PrintToString(second.changes);
  EXPECT_EQ(second.text, first.text);
}

TEST_P(Golden, ParsedResultHasEveryPatchedValueAndKeepsTheRest) {
  const std::string in = read(kDir / (GetParam() + ".in.yaml"));
  const auto r = patch_ok(in, full_patch(), GetParam());
  auto docs_in = YAML::LoadAll(in);
  auto docs = YAML::LoadAll(r.text);
  ASSERT_EQ(docs.size(), docs_in.size());
  const YAML::Node y = docs.front();
  EXPECT_EQ(y["kind"].as<std::string>(), "KubeletConfiguration");
  EXPECT_EQ(y["tlsCertFile"].as<std::string>(), "/var/lib/kubelet/pki/kubelet-server-current.pem");
  EXPECT_EQ(y["tlsPrivateKeyFile"].as<std::string>(), "/var/lib/kubelet/pki/kubelet-server-current.pem");
  EXPECT_EQ(y["authentication"]["x509"]["clientCAFile"].as<std::string>(), "/etc/kubernetes/pki/ca.crt");
  EXPECT_EQ(y["authentication"]["anonymous"]["enabled"].as<std::string>(), "false");
  EXPECT_EQ(y["authentication"]["webhook"]["enabled"].as<std::string>(), "true");
  EXPECT_EQ(y["authorization"]["mode"].as<std::string>(), "Webhook");
  EXPECT_EQ(y["readOnlyPort"].as<std::string>(), "0");
  EXPECT_EQ(y["tlsCipherSuites"].as<std::vector<std::string>>(), strong_cipher_suites());
  EXPECT_FALSE(y["rotateCertificates"].IsDefined());
  EXPECT_FALSE(y["serverTLSBootstrap"].IsDefined());
  // Every top-level key the operator had is still there (except the two we own).
  for (const auto& kv : docs_in.front()) {
    const auto key = kv.first.as<std::string>();
    if (key == "rotateCertificates" || key == "serverTLSBootstrap") continue;
    EXPECT_TRUE(y[key].IsDefined()) << key;
  }
}

TEST_P(Golden, EveryLineNotPatchedIsKeptByteForByteAndInOrder) {
  const std::string in = read(kDir / (GetParam() + ".in.yaml"));
  const auto r = patch_ok(in, full_patch(), GetParam());
  // The output's lines contain the input's lines as a subsequence, except lines that held a
  // patched key; comments always survive.
  const auto a = lines_of(in), b = lines_of(r.text);
  static const std::vector<std::string> patched = {"tlsCertFile",
                                                   "tlsPrivateKeyFile",
                                                   "clientCAFile",
                                                   "enabled",
                                                   "mode",
                                                   "readOnlyPort",
                                                   "tlsCipherSuites",
                                                   "TLS_",
                                                   "rotateCertificates",
                                                   "serverTLSBootstrap",
                                                   "RotateKubeletServerCertificate",
                                                   "authentication",
                                                   "authorization",
                                                   "featureGates",
                                                   "x509",
                                                   "anonymous",
                                                   "webhook",
                                                   "{",
                                                   "- ",
                                                   "eventRecordQPS",
                                                   "makeIPTablesUtilChains",
                                                   "streamingConnectionIdleTimeout"};
  size_t j = 0;
  for (const auto& line : a) {
    bool touched = false;
    for (const auto& k : patched) touched = touched || line.find(k) != std::string::npos;
    size_t k = j;
    while (k < b.size() && b[k] != line) ++k;
    if (k < b.size()) {
      j = k + 1;
    } else {
      EXPECT_TRUE(touched) << GetParam() << ": the line '" << line << "' is gone";
    }
    if (line.find('#') != std::string::npos) {
      const auto comment = line.substr(line.find('#'));
      EXPECT_THAT(r.text, HasSubstr(comment)) << GetParam() << ": comment lost";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Golden, ::testing::Values("kubeadm", "commented", "flow", "crlf", "future"),
                         [](const auto& i) { return i.param; });

TEST(KubeletConfigPatch, CrlfFileKeepsCrlfOnEveryLine) {
  const auto r = patch_ok(read(kDir / "crlf.in.yaml"), full_patch(), "crlf");
  size_t lf = 0, crlf = 0;
  for (size_t i = 0; i < r.text.size(); ++i) {
    if (r.text[i] == '\n') {
      ++lf;
      if (i > 0 && r.text[i - 1] == '\r') ++crlf;
    }
  }
  EXPECT_GT(lf, 5u);
  EXPECT_EQ(crlf, lf);
}

TEST(KubeletConfigPatch, MissingFileBecomesANewConfiguration) {
  const auto r = patch_ok("", full_patch(), "/var/lib/kubelet/config.yaml");
  EXPECT_TRUE(r.changed);
  const auto y = YAML::Load(r.text);
  EXPECT_EQ(y["apiVersion"].as<std::string>(), "kubelet.config.k8s.io/v1beta1");
  EXPECT_EQ(y["kind"].as<std::string>(), "KubeletConfiguration");
  EXPECT_EQ(y["readOnlyPort"].as<int>(), 0);
  EXPECT_EQ(y["authentication"]["x509"]["clientCAFile"].as<std::string>(), "/etc/kubernetes/pki/ca.crt");
  EXPECT_EQ(r.text, patch_ok(r.text, full_patch(), "again").text);
}

TEST(KubeletConfigPatch, MalformedYamlNamesLineAndColumnAndReturnsNothing) {
  const std::string bad =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous: "
      "[enabled\n";
  auto r = patch_kubelet_config(bad, full_patch(), "/var/lib/kubelet/config.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("/var/lib/kubelet/config.yaml:"));
  EXPECT_EQ(r.error().where.line, 5);
}

std::string kubelet_header() {
  return "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
}

TEST(KubeletConfigPatch, ManyKeysArePatchedAndEveryOtherLineKept) {
  // 10,000 unknown keys (the bench measures 100,000): the edit and the compare stay linear.
  std::string text = kubelet_header() + "readOnlyPort: 10255\n";
  for (int i = 0; i < 10000; ++i) text += "k" + std::to_string(i) + ": " + std::to_string(i) + "\n";
  const PatchResult r = patch_ok(text, full_patch(), "many.yaml");
  EXPECT_TRUE(r.changed);
  EXPECT_THAT(r.text, HasSubstr("\nreadOnlyPort: 0\n"));
  EXPECT_THAT(r.text, HasSubstr("\nk9999: 9999\n"));
}

TEST(KubeletConfigPatch, BillionLaughsIsRefusedNamingTheFileAndTheLimit) {
  std::string text = kubelet_header() + "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) text += (k ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  auto r = patch_kubelet_config(text, full_patch(), "/var/lib/kubelet/config.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("/var/lib/kubelet/config.yaml:"));
  EXPECT_THAT(r.error().message, HasSubstr("over a limit: more than 1000000 YAML nodes"));
  EXPECT_THAT(r.error().message, HasSubstr("left untouched"));
}

TEST(KubeletConfigPatch, AFileOverTheSizeLimitIsRefusedBeforeParsing) {
  std::string text = kubelet_header();
  while (text.size() <= kMaxKubeletConfigBytes) text += "# " + std::string(78, 'x') + "\n";
  auto r = patch_kubelet_config(text, full_patch(), "/var/lib/kubelet/config.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(),
              HasSubstr("/var/lib/kubelet/config.yaml: over a limit: larger than 262144 bytes"));
}

TEST(KubeletConfigPatch, AnotherKindIsRefused) {
  auto r = patch_kubelet_config("apiVersion: v1\nkind: ConfigMap\ndata: {}\n", full_patch(), "x.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("KubeletConfiguration"));
}

TEST(KubeletConfigPatch, NonMappingSectionIsRefusedNotOverwritten) {
  auto r = patch_kubelet_config(
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication: yes\n",
      full_patch(), "x.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("authentication"));
}

TEST(KubeletConfigPatch, WithoutServingCertificateTheTlsFilesAreNotTouched) {
  auto p = full_patch();
  p.tls_cert_file.reset();
  p.tls_private_key_file.reset();
  const std::string in =
      "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\ntlsCertFile: /etc/old.crt\n";
  const auto r = patch_ok(in, p, "x");
  EXPECT_EQ(YAML::Load(r.text)["tlsCertFile"].as<std::string>(), "/etc/old.crt");
  EXPECT_FALSE(YAML::Load(r.text)["tlsPrivateKeyFile"].IsDefined());
}

TEST(KubeletConfigPatch, HardeningLevels) {
  const std::string in = read(kDir / "kubeadm.in.yaml");
  const auto off = patch_ok(in, full_patch(Hardening::Off), "off");
  const auto y_off = YAML::Load(off.text);
  const auto y_in = YAML::Load(in);
  EXPECT_EQ(y_off["readOnlyPort"].IsDefined(), y_in["readOnlyPort"].IsDefined());
  EXPECT_FALSE(y_off["tlsCipherSuites"].IsDefined());
  EXPECT_EQ(y_off["authentication"]["x509"]["clientCAFile"].as<std::string>(), "/etc/kubernetes/pki/ca.crt");

  const auto minimal = YAML::Load(patch_ok(in, full_patch(Hardening::Minimal), "minimal").text);
  EXPECT_EQ(minimal["authentication"]["anonymous"]["enabled"].as<std::string>(), "false");
  EXPECT_EQ(minimal["authorization"]["mode"].as<std::string>(), "Webhook");
  EXPECT_EQ(minimal["readOnlyPort"].as<int>(), 0);
  EXPECT_FALSE(minimal["tlsCipherSuites"].IsDefined());

  const auto cis = YAML::Load(patch_ok(in, full_patch(Hardening::Cis), "cis").text);
  EXPECT_TRUE(cis["tlsCipherSuites"].IsDefined());
}

TEST(KubeletConfigPatch, ExplicitFalseRotationKeysAreRemovedNotRewritten) {
  const std::string in =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nrotateCertificates: false\n"
      "serverTLSBootstrap: true\nfeatureGates:\n  RotateKubeletServerCertificate: false\n  Other: true\n";
  const auto r = patch_ok(in, full_patch(), "x");
  EXPECT_THAT(r.text, ::testing::Not(HasSubstr("rotateCertificates")));
  EXPECT_THAT(r.text, ::testing::Not(HasSubstr("serverTLSBootstrap")));
  EXPECT_THAT(r.text, ::testing::Not(HasSubstr("RotateKubeletServerCertificate")));
  EXPECT_THAT(r.text, HasSubstr("  Other: true\n"));
}

TEST(KubeletConfigPatch, OperatorsOwnStrongerSettingsAreKept) {
  // A cipher list that is a subset of the strong list, or pod limits already set, stay.
  const std::string in =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\npodPidsLimit: 1024\n"
      "seccompDefault: false\n";
  const auto y = YAML::Load(patch_ok(in, full_patch(), "x").text);
  EXPECT_EQ(y["podPidsLimit"].as<int>(), 1024);
  EXPECT_EQ(y["seccompDefault"].as<std::string>(), "false");
}

}  // namespace
}  // namespace kcd::kubelet

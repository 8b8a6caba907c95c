// The CIS kubelet checks, evaluated from kube-bench's definitions, on a fake node tree
// (root directory in a temp dir): kubeadm's service drop-in and flags file, a kubelet config,
// the kubeconfig and CA with their modes. Expected verdicts are the ones kube-bench gives
// for the same inputs (its rules: flag first, then config file; set defaults to true;
// string comparisons; failing scored check FAIL, failing manual check WARN).
#include "kubelet/cis.hpp"
#include "kubelet/kubelet_config.hpp"
#include "kubelet/kubelet_flags.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace kcd::kubelet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::string_literals;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* kKubeadmDropIn =
    "# Note: This dropin only works with kubeadm and kubelet v1.11+\n"
    "[Service]\n"
    "Environment=\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf "
    "--kubeconfig=/etc/kubernetes/kubelet.conf\"\n"
    "Environment=\"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml\"\n"
    "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n"
    "EnvironmentFile=-/etc/default/kubelet\n"
    "ExecStart=\n"
    "ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS "
    "$KUBELET_EXTRA_ARGS\n";

class Cis : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("kcd-cis-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    write("etc/systemd/system/kubelet.service.d/10-kubeadm.conf", kKubeadmDropIn, 0644);
    write("var/lib/kubelet/kubeadm-flags.env",
          "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock "
          "--pod-infra-container-image=registry.k8s.io/pause:3.9\"\n",
          0644);
    write("etc/kubernetes/kubelet.conf", "apiVersion: v1\nkind: Config\n", 0600);
    write("etc/kubernetes/pki/ca.crt", "-----BEGIN CERTIFICATE-----\n", 0644);
    write("var/lib/kubelet/config.yaml", read(fs::path(KCD_FIXTURES_DIR) / "kubelet-config/kubeadm.in.yaml"),
          0644);
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& rel, const std::string& text, fs::perms mode) {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    fs::permissions(p, mode);
  }
  void write(const std::string& rel, const std::string& text, int mode) {
    write(rel, text, static_cast<fs::perms>(mode));
  }

  std::map<std::string, CisResult> run() {
    CisInputs in;
    in.root = root_;
    in.kubelet_config = "/var/lib/kubelet/config.yaml";
    in.kubeconfig = "/etc/kubernetes/kubelet.conf";
    in.client_ca_file = "/etc/kubernetes/pki/ca.crt";
    in.command_line = read_kubelet_command_line(root_);
    std::map<std::string, CisResult> out;
    for (auto& r : run_cis_checks(in)) out[r.id] = r;
    return out;
  }

  static std::map<std::string, std::string> verdicts(const std::map<std::string, CisResult>& rs) {
    std::map<std::string, std::string> v;
    for (const auto& [id, r] : rs) v[id] = std::string(to_string(r.status));
    return v;
  }

  void patch_config() {
    KubeletConfigPatch p;
    p.tls_cert_file = "/var/lib/kubelet/pki/kubelet-server-current.pem";
    p.tls_private_key_file = "/var/lib/kubelet/pki/kubelet-server-current.pem";
    p.client_ca_file = "/etc/kubernetes/pki/ca.crt";
    p.kubelet_version = Version{1, 30, 0};
    auto r = patch_kubelet_config(read(root_ / "var/lib/kubelet/config.yaml"), p, "config.yaml");
    ASSERT_TRUE(r) << r.error().format();
    write("var/lib/kubelet/config.yaml", r->text, 0600);
  }

  fs::path root_;
};

TEST_F(Cis, BuiltInDefinitionsCoverEveryCheckInScope) {
  CisInputs in;
  in.root = root_;
  const auto results = run_cis_checks(in);
  std::vector<std::string> ids;
  for (const auto& r : results) ids.push_back(r.id);
  EXPECT_THAT(ids, ::testing::ElementsAre("4.1.5", "4.1.6", "4.1.7", "4.1.8", "4.1.9", "4.1.10", "4.2.1",
                                          "4.2.2", "4.2.3", "4.2.4", "4.2.5", "4.2.6", "4.2.7", "4.2.8",
                                          "4.2.9", "4.2.10", "4.2.11", "4.2.12", "4.2.13", "4.2.14"));
  for (const auto& r : results) {
    EXPECT_FALSE(r.title.empty()) << r.id;
    EXPECT_FALSE(r.remediation.empty()) << r.id;
    EXPECT_EQ(r.remediation.find('$'), std::string::npos)
        << r.id << ": unexpanded variable in " << r.remediation;
  }
}

TEST_F(Cis, KubeadmNodeAsGeneratedGivesKubeBenchsVerdicts) {
  const auto v = verdicts(run());
  const std::map<std::string, std::string> want = {
      {"4.1.5", "PASS"},  {"4.1.6", "PASS"},  {"4.1.7", "PASS"},  {"4.1.8", "PASS"},  {"4.1.9", "FAIL"},
      {"4.1.10", "PASS"}, {"4.2.1", "PASS"},  {"4.2.2", "PASS"},  {"4.2.3", "PASS"},  {"4.2.4", "PASS"},
      {"4.2.5", "PASS"},  {"4.2.6", "PASS"},  {"4.2.7", "PASS"},  {"4.2.8", "PASS"},  {"4.2.9", "WARN"},
      {"4.2.10", "PASS"}, {"4.2.11", "PASS"}, {"4.2.12", "WARN"}, {"4.2.13", "WARN"}, {"4.2.14", "WARN"}};
  EXPECT_EQ(v, want);
}

TEST_F(Cis, NodePatchedByKubeletCertdPassesEveryCheck) {
  patch_config();
  const auto rs = run();
  for (const auto& [id, r] : rs) EXPECT_EQ(r.status, CisStatus::Pass) << id << ": " << r.evidence;
}

TEST_F(Cis, ExplicitFalseRotationFailsAbsentPasses) {
  write("var/lib/kubelet/config.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nrotateCertificates: false\n"
        "featureGates:\n  RotateKubeletServerCertificate: false\n",
        0600);
  auto rs = run();
  EXPECT_EQ(rs["4.2.10"].status, CisStatus::Fail);
  EXPECT_THAT(rs["4.2.10"].evidence,
              HasSubstr("{.rotateCertificates} = false in /var/lib/kubelet/config.yaml"));
  EXPECT_THAT(rs["4.2.10"].remediation, HasSubstr("kubelet-certd rotates"));
  EXPECT_EQ(rs["4.2.11"].status, CisStatus::Warn);
  patch_config();
  rs = run();
  EXPECT_EQ(rs["4.2.10"].status, CisStatus::Pass);
  EXPECT_THAT(rs["4.2.10"].evidence, HasSubstr("{.rotateCertificates} not set"));
  EXPECT_EQ(rs["4.2.11"].status, CisStatus::Pass);
}

TEST_F(Cis, FlagOnTheCommandLineWinsOverTheFileAndIsNamedWithItsFile) {
  patch_config();
  write("etc/default/kubelet",
        "KUBELET_EXTRA_ARGS=\"--read-only-port=10255 --anonymous-auth=true --rotate-certificates=false\"\n",
        0644);
  auto rs = run();
  EXPECT_EQ(rs["4.2.1"].status, CisStatus::Fail);
  EXPECT_THAT(rs["4.2.1"].evidence, HasSubstr("--anonymous-auth=true (/etc/default/kubelet:1)"));
  EXPECT_FALSE(rs["4.2.1"].fixable);
  EXPECT_EQ(rs["4.2.4"].status, CisStatus::Warn);
  EXPECT_EQ(rs["4.2.10"].status, CisStatus::Fail);
  EXPECT_EQ(rs["4.2.2"].status, CisStatus::Pass);
}

TEST_F(Cis, RunningKubeletsCommandLineIsWhatCounts) {
  patch_config();
  // The files say nothing wrong, but the running process was started with another flag.
  write("proc/4242/cmdline",
        "/usr/bin/kubelet\0--config=/var/lib/kubelet/config.yaml\0--hostname-override=x\0"s, 0444);
  // It runs as root from a root-owned executable: the kubelet (see kubelet_detect_test for
  // processes that fail these checks).
  write("proc/4242/status", "Name:\tkubelet\nUid:\t0\t0\t0\t0\n", 0444);
  write("usr/bin/kubelet", "#!/bin/sh\n", 0755);
  fs::create_symlink(root_ / "usr/bin/kubelet", root_ / "proc/4242/exe");
  write("proc/17/cmdline", "/usr/sbin/sshd\0-D\0"s, 0444);
  auto rs = run();
  EXPECT_EQ(rs["4.2.7"].status, CisStatus::Warn);
  EXPECT_THAT(rs["4.2.7"].evidence, HasSubstr("--hostname-override=x (/proc/4242/cmdline)"));
  EXPECT_THAT(rs["4.2.7"].evidence, HasSubstr("running kubelet (pid 4242)"));
}

TEST_F(Cis, FileModesAndMissingFiles) {
  fs::permissions(root_ / "etc/kubernetes/kubelet.conf", static_cast<fs::perms>(0644));
  fs::permissions(root_ / "etc/kubernetes/pki/ca.crt", static_cast<fs::perms>(0666));
  fs::remove(root_ / "var/lib/kubelet/config.yaml");
  auto rs = run();
  EXPECT_EQ(rs["4.1.5"].status, CisStatus::Fail);
  EXPECT_THAT(rs["4.1.5"].evidence, HasSubstr("/etc/kubernetes/kubelet.conf: permissions=644"));
  EXPECT_TRUE(rs["4.1.5"].fixable);
  EXPECT_THAT(rs["4.1.5"].remediation, HasSubstr("chmod 600 /etc/kubernetes/kubelet.conf"));
  EXPECT_EQ(rs["4.1.7"].status, CisStatus::Warn);
  EXPECT_EQ(rs["4.1.9"].status, CisStatus::Fail);
  EXPECT_THAT(rs["4.1.9"].evidence, HasSubstr("missing"));
  // kube-bench's `cat` of a missing config fails every check that reads it.
  EXPECT_EQ(rs["4.2.1"].status, CisStatus::Fail);
  EXPECT_EQ(rs["4.2.4"].status, CisStatus::Warn);
  EXPECT_THAT(rs["4.2.1"].evidence, HasSubstr("kubelet config file /var/lib/kubelet/config.yaml is missing"));
  EXPECT_EQ(rs["4.2.7"].status, CisStatus::Pass);  // decided by the command line alone
}

TEST_F(Cis, MalformedConfigFailsItsChecksNamingLineAndColumn) {
  write("var/lib/kubelet/config.yaml",
        "kind: KubeletConfiguration\nauthentication:\n  anonymous: {enabled: false\n", 0600);
  auto rs = run();
  EXPECT_EQ(rs["4.2.1"].status, CisStatus::Fail);
  EXPECT_EQ(rs["4.2.12"].status, CisStatus::Warn);
  EXPECT_THAT(rs["4.2.1"].evidence, HasSubstr("/var/lib/kubelet/config.yaml:4:1 is invalid YAML"));
  EXPECT_EQ(rs["4.1.9"].status, CisStatus::Pass);  // its mode is still right
}

TEST_F(Cis, ClientCaFileFromTheConfigIsTheOneChecked) {
  write("etc/pki/other-ca.crt", "x", 0600);
  write("var/lib/kubelet/config.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  x509:\n"
        "    clientCAFile: /etc/pki/other-ca.crt\n",
        0600);
  auto rs = run();
  EXPECT_EQ(rs["4.1.7"].status, CisStatus::Pass);
  EXPECT_THAT(rs["4.1.7"].evidence, HasSubstr("/etc/pki/other-ca.crt: permissions=600"));
}

TEST(CisCompare, KubeBenchSemantics) {
  EXPECT_TRUE(cis_compare("eq", "False", "false"));  // booleans compare case-insensitively
  EXPECT_FALSE(cis_compare("eq", "0s", "0"));
  EXPECT_TRUE(cis_compare("noteq", "0s", "0"));  // a string compare: "0s" is not "0"
  EXPECT_FALSE(cis_compare("noteq", "0", "0"));
  EXPECT_TRUE(cis_compare("gte", "0", "0"));
  EXPECT_FALSE(cis_compare("gte", "-1", "0"));
  EXPECT_FALSE(cis_compare("gte", "5.5", "0"));  // Atoi: not a number, fails
  EXPECT_TRUE(cis_compare("nothave", "Node,Webhook", "AlwaysAllow"));
  EXPECT_FALSE(cis_compare("nothave", "AlwaysAllow", "AlwaysAllow"));
  EXPECT_TRUE(cis_compare("bitmask", "600", "600"));
  EXPECT_TRUE(cis_compare("bitmask", "400", "600"));
  EXPECT_FALSE(cis_compare("bitmask", "640", "600"));
  EXPECT_TRUE(cis_compare("bitmask", "644", "644"));
  EXPECT_FALSE(cis_compare("bitmask", "666", "644"));
  EXPECT_TRUE(cis_compare("valid_elements", "A,B,", "A,B,C"));
  EXPECT_FALSE(cis_compare("valid_elements", "A,D,", "A,B,C"));
  EXPECT_FALSE(cis_compare("valid_elements", "", "A,B,C"));
  EXPECT_FALSE(cis_compare("no-such-op", "a", "a"));
}

TEST(CisJsonPath, PrintsValuesAsGoYamlAndJsonpathDo) {
  const std::string doc =
      "a: {b: no, q: \"no\", n: 0x10, o: 010, f: 5.50, z: ~, e: ''}\nlist: [x, w, y]\nmap: {k: v}\n";
  EXPECT_EQ(cis_jsonpath(doc, "{.a.b}"), "false");
  EXPECT_EQ(cis_jsonpath(doc, "{.a.q}"), "no");
  EXPECT_EQ(cis_jsonpath(doc, "{.a.n}"), "16");
  EXPECT_EQ(cis_jsonpath(doc, "{.a.o}"), "8");
  EXPECT_EQ(cis_jsonpath(doc, "{.a.f}"), "5.5");
  // Past float64: yaml.v2 keeps the text; below it: 0, as Go's ParseFloat gives it.
  EXPECT_EQ(cis_jsonpath("a: 40e1111111396\n", "{.a}"), "40e1111111396");
  EXPECT_EQ(cis_jsonpath("a: -1e400\n", "{.a}"), "-1e400");
  EXPECT_EQ(cis_jsonpath("a: 1e-400\n", "{.a}"), "0");
  EXPECT_EQ(cis_jsonpath("a: 1.5e3\n", "{.a}"), "1500");
  // One sign, before the base prefix, as Go's ParseInt takes it; others are text.
  EXPECT_EQ(cis_jsonpath("a: -0x10\n", "{.a}"), "-16");
  EXPECT_EQ(cis_jsonpath("a: 0x-5\n", "{.a}"), "0x-5");
  EXPECT_EQ(cis_jsonpath("a: --5\n", "{.a}"), "--5");
  EXPECT_EQ(cis_jsonpath("a: +-9223372036854775808\n", "{.a}"), "+-9223372036854775808");
  EXPECT_EQ(cis_jsonpath(doc, "{.a.z}"), "");
  EXPECT_EQ(cis_jsonpath(doc, "{.a.e}"), "");
  EXPECT_EQ(cis_jsonpath(doc, "{.a.missing.deeper}"), "");
  EXPECT_EQ(cis_jsonpath(doc, "{range .list[:]}{}{','}{end}"),
            "x,w,true,");  // yaml.v2: a plain y is YAML 1.1 true
  EXPECT_EQ(cis_jsonpath(doc, "{range .missing[:]}{}{','}{end}"), "");
  EXPECT_EQ(cis_jsonpath(doc, "{.map}"), "map[k:v]");
  EXPECT_EQ(cis_jsonpath(doc, "{.a[0]}"), std::nullopt);
  EXPECT_EQ(cis_jsonpath("{ not yaml", "{.a}"), std::nullopt);
}

TEST(CisDefinitionsParse, UnknownPathsAndOperatorsAreRefused) {
  auto bad = parse_cis_definitions(
      "groups:\n- id: 4.2\n  checks:\n  - id: 9.9\n    tests:\n      test_items:\n      - flag: --x\n        "
      "path: '{.a[*].b}'\n");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().format(), HasSubstr("9.9"));
  auto op = parse_cis_definitions(
      "groups:\n- checks:\n  - id: 9.8\n    tests:\n      bin_op: xor\n      test_items: []\n");
  ASSERT_FALSE(op);
  EXPECT_THAT(op.error().format(), HasSubstr("bin_op"));
}

TEST(KubeletFlags, SplitWordsLikeTheShell) {
  EXPECT_THAT(split_words("--a=b  \"--c=d e\" '--f=g' h\\ i"),
              ::testing::ElementsAre("--a=b", "--c=d e", "--f=g", "h i"));
  EXPECT_THAT(split_words(""), ::testing::IsEmpty());
}

}  // namespace
}  // namespace kcd::kubelet

// The CIS evaluator on facts written down in the test (no files, no node tree): kubeadm's
// default node, a flag that overrides the file either way, keys the patch holds back, files
// that are missing or unreadable; kube-bench's rules on their own (which files its variables
// name, bin_op, verdicts); and the typed definitions, with errors that point into the file.
#include "kubelet/cis_definitions.hpp"
#include "kubelet/cis_evaluate.hpp"
#include "kubelet/cis_facts.hpp"
#include "kubelet/cis_kube_bench.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace kcd::kubelet {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The KubeletConfiguration `kubeadm init` writes (v1.30), as it is on a fresh node.
const char* kKubeadmConfig = R"(apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 0s
    cacheUnauthorizedTTL: 0s
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
containerRuntimeEndpoint: ""
healthzBindAddress: 127.0.0.1
healthzPort: 10248
kind: KubeletConfiguration
rotateCertificates: true
staticPodPath: /etc/kubernetes/manifests
streamingConnectionIdleTimeout: 0s
syncFrequency: 0s
)";

constexpr const char* kDropIn = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("test text has no " + from);
  return text.replace(at, from.size(), to);
}

KubeletFlag flag(std::string name, std::string value, std::string where) {
  return KubeletFlag{std::move(name), std::move(value), std::move(where)};
}

// A command line assembled from service files, as read_kubelet_command_line gives it.
KubeletCommandLine service_files_command_line(std::vector<KubeletFlag> flags) {
  KubeletCommandLine cl;
  cl.origin = "service files";
  cl.service_file = kDropIn;
  cl.text = "kubelet";
  for (const auto& f : flags) cl.text += " " + f.name + "=" + f.value;
  cl.flags = std::move(flags);
  return cl;
}

CisFile file(const char* path, unsigned mode, const char* user = "root", const char* group = "root") {
  CisFile f;
  f.path = path;
  f.stat = CisFileStat{mode, user, group};
  return f;
}

// A kubeadm worker as `kubeadm join` leaves it: its drop-in and flags file, config.yaml 0644.
CisFacts kubeadm_node() {
  CisFacts f;
  f.command_line = service_files_command_line({
      flag("--bootstrap-kubeconfig", "/etc/kubernetes/bootstrap-kubelet.conf", std::string(kDropIn) + ":3"),
      flag("--kubeconfig", "/etc/kubernetes/kubelet.conf", std::string(kDropIn) + ":3"),
      flag("--config", "/var/lib/kubelet/config.yaml", std::string(kDropIn) + ":4"),
      flag("--container-runtime-endpoint", "unix:///var/run/containerd/containerd.sock",
           "/var/lib/kubelet/kubeadm-flags.env:1"),
      flag("--pod-infra-container-image", "registry.k8s.io/pause:3.9",
           "/var/lib/kubelet/kubeadm-flags.env:1"),
  });
  f.kubelet_config = file("/var/lib/kubelet/config.yaml", 0644);
  f.kubelet_config_text = std::string(kKubeadmConfig);
  f.kubeconfig = file("/etc/kubernetes/kubelet.conf", 0600);
  f.client_ca_file = file("/etc/kubernetes/pki/ca.crt", 0644);
  return f;
}

std::map<std::string, CisResult> evaluate(const CisFacts& facts) {
  std::map<std::string, CisResult> out;
  for (auto& r : evaluate_cis(facts)) out[r.id] = std::move(r);
  return out;
}

std::map<std::string, std::string> verdicts(const std::map<std::string, CisResult>& results) {
  std::map<std::string, std::string> v;
  for (const auto& [id, r] : results) v[id] = std::string(to_string(r.status));
  return v;
}

TEST(CisEvaluate, KubeadmDefaultNodeGivesKubeBenchsVerdicts) {
  const std::map<std::string, std::string> want = {
      {"4.1.5", "PASS"},  {"4.1.6", "PASS"},  {"4.1.7", "PASS"},  {"4.1.8", "PASS"},  {"4.1.9", "FAIL"},
      {"4.1.10", "PASS"}, {"4.2.1", "PASS"},  {"4.2.2", "PASS"},  {"4.2.3", "PASS"},  {"4.2.4", "PASS"},
      {"4.2.5", "PASS"},  {"4.2.6", "PASS"},  {"4.2.7", "PASS"},  {"4.2.8", "PASS"},  {"4.2.9", "WARN"},
      {"4.2.10", "PASS"}, {"4.2.11", "PASS"}, {"4.2.12", "WARN"}, {"4.2.13", "WARN"}, {"4.2.14", "WARN"}};
  const auto rs = evaluate(kubeadm_node());
  EXPECT_EQ(verdicts(rs), want);
  EXPECT_EQ(rs.at("4.1.9").evidence, "/var/lib/kubelet/config.yaml: permissions=644");
  EXPECT_TRUE(rs.at("4.1.9").fixable);
  EXPECT_THAT(rs.at("4.1.9").remediation, HasSubstr("chmod 600 /var/lib/kubelet/config.yaml"));
  EXPECT_THAT(rs.at("4.1.9").remediation, HasSubstr("`kubelet-certd check --fix` applies this."));
  EXPECT_EQ(rs.at("4.2.1").evidence,
            "{.authentication.anonymous.enabled} = false in /var/lib/kubelet/config.yaml; command line from "
            "service files");
  EXPECT_EQ(rs.at("4.2.9").evidence,
            "{.tlsCertFile} not set in /var/lib/kubelet/config.yaml; {.tlsPrivateKeyFile} not set in "
            "/var/lib/kubelet/config.yaml; command line from service files");
  EXPECT_THAT(rs.at("4.2.10").remediation, HasSubstr("kubelet-certd rotates"));
  EXPECT_THAT(rs.at("4.2.1").remediation, HasSubstr(kDropIn));  // $kubeletsvc
}

TEST(CisEvaluate, AFlagOnTheCommandLineWinsOverTheFile) {
  CisFacts f = kubeadm_node();
  // The file says anonymous auth is off; the command line turns it on.
  f.command_line = service_files_command_line({flag("--config", "/var/lib/kubelet/config.yaml", kDropIn),
                                               flag("--anonymous-auth", "true", "/etc/default/kubelet:1")});
  auto rs = evaluate(f);
  EXPECT_EQ(rs.at("4.2.1").status, CisStatus::Fail);
  EXPECT_THAT(rs.at("4.2.1").evidence,
              HasSubstr("kubelet flag --anonymous-auth=true (/etc/default/kubelet:1)"));
  EXPECT_THAT(rs.at("4.2.1").evidence, Not(HasSubstr("config.yaml")));
  EXPECT_FALSE(rs.at("4.2.1").fixable);  // the patch cannot change a flag
  EXPECT_THAT(rs.at("4.2.1").remediation, Not(HasSubstr("--fix")));

  // The other way round: a file that fails, a flag that passes.
  f.kubelet_config_text = std::string(kKubeadmConfig) + "readOnlyPort: 10255\n";
  EXPECT_EQ(evaluate(f).at("4.2.4").status, CisStatus::Warn);
  f.command_line.flags.push_back(flag("--read-only-port", "0", "/etc/default/kubelet:2"));
  f.command_line.text += " --read-only-port=0";
  rs = evaluate(f);
  EXPECT_EQ(rs.at("4.2.4").status, CisStatus::Pass);
  EXPECT_THAT(rs.at("4.2.4").evidence, HasSubstr("kubelet flag --read-only-port=0 (/etc/default/kubelet:2)"));
}

TEST(CisEvaluate, AHeldBackKeyMakesItsCheckAWarningWithTheReason) {
  CisFacts f = kubeadm_node();
  f.kubelet_config_text = replaced(kKubeadmConfig, "rotateCertificates: true", "rotateCertificates: false");
  ASSERT_EQ(evaluate(f).at("4.2.10").status, CisStatus::Fail);

  const std::string reason = "seccompDefault needs the SeccompDefault feature gate on kubelet 1.24";
  f.held_back = {HeldKey{"seccompDefault", "4.2.14", reason},
                 HeldKey{"rotateCertificates", "4.2.10", "refused by the kubelet (rolled back)"},
                 HeldKey{"authentication.anonymous.enabled", "4.2.1", "not this time"}};
  const auto rs = evaluate(f);
  EXPECT_EQ(rs.at("4.2.14").status, CisStatus::Warn);
  EXPECT_THAT(rs.at("4.2.14").evidence, HasSubstr("; not written by kubelet-certd: " + reason));
  // A scored check that would FAIL is a warning once its key is held back.
  EXPECT_EQ(rs.at("4.2.10").status, CisStatus::Warn);
  EXPECT_THAT(rs.at("4.2.10").evidence,
              HasSubstr("; not written by kubelet-certd: refused by the kubelet (rolled back)"));
  // A check that passes stays as it is.
  EXPECT_EQ(rs.at("4.2.1").status, CisStatus::Pass);
  EXPECT_THAT(rs.at("4.2.1").evidence, Not(HasSubstr("not written by kubelet-certd")));
}

TEST(CisEvaluate, AMissingConfigFileFailsEveryCheckThatReadsIt) {
  CisFacts f = kubeadm_node();
  f.kubelet_config.stat = Unexpected(io_error("stat", "/var/lib/kubelet/config.yaml", ENOENT));
  f.kubelet_config_text = Unexpected(io_error("open", "/var/lib/kubelet/config.yaml", ENOENT));
  const auto rs = evaluate(f);
  EXPECT_EQ(rs.at("4.1.9").status, CisStatus::Fail);
  EXPECT_EQ(rs.at("4.1.9").evidence, "/var/lib/kubelet/config.yaml: missing");
  EXPECT_FALSE(rs.at("4.1.9").fixable);
  EXPECT_EQ(rs.at("4.2.1").status, CisStatus::Fail);
  EXPECT_EQ(rs.at("4.2.4").status, CisStatus::Warn);
  EXPECT_THAT(rs.at("4.2.1").evidence,
              HasSubstr("kubelet config file /var/lib/kubelet/config.yaml is missing"));
  EXPECT_EQ(rs.at("4.2.7").status, CisStatus::Pass);  // the command line alone decides it
}

TEST(CisEvaluate, AnUnreadableOrMalformedConfigFileIsNamedInTheEvidence) {
  CisFacts f = kubeadm_node();
  f.kubelet_config_text = Unexpected(io_error("open", "/var/lib/kubelet/config.yaml", EACCES));
  auto rs = evaluate(f);
  EXPECT_EQ(rs.at("4.2.1").status, CisStatus::Fail);
  EXPECT_THAT(rs.at("4.2.1").evidence,
              HasSubstr("kubelet config file /var/lib/kubelet/config.yaml cannot be "
                        "read (open /var/lib/kubelet/config.yaml: Permission denied)"));

  f.kubelet_config_text =
      std::string("kind: KubeletConfiguration\nauthentication:\n  anonymous: {enabled: false\n");
  rs = evaluate(f);
  EXPECT_EQ(rs.at("4.2.1").status, CisStatus::Fail);
  EXPECT_EQ(rs.at("4.2.12").status, CisStatus::Warn);
  EXPECT_THAT(rs.at("4.2.1").evidence, HasSubstr("/var/lib/kubelet/config.yaml:4:1 is invalid YAML"));
  EXPECT_EQ(rs.at("4.1.9").status, CisStatus::Fail);  // its mode is 644 whatever it says
}

// Fuzzing (cis target) found numbers past float64's range thrown out of the evaluation as
// std::out_of_range: `kubelet-certd check` and a metrics render ended on them. yaml.v2 keeps
// such a value as its text, and so do we; the check fails on it as kube-bench's does.
TEST(CisEvaluate, ANumberPastFloat64IsItsTextNotAnException) {
  CisFacts f = kubeadm_node();
  for (const char* suites :
       {"tlsCipherSuites:\r\n- TLS_ECDHE_ECDSAmit: 40e1111111396\r\n",
        "tlsCipherSuites:\r\n-  55555554e555555555555\n", "tlsCipherSuites: [1e400, -1e400]\n"}) {
    f.kubelet_config_text = "kind: KubeletConfiguration\n" + std::string(suites);
    const auto rs = evaluate(f);
    ASSERT_TRUE(rs.count("4.2.12")) << suites;
    EXPECT_EQ(rs.at("4.2.12").status, CisStatus::Warn) << suites;
  }
  f.kubelet_config_text =
      std::string("kind: KubeletConfiguration\ntlsCipherSuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n");
  EXPECT_EQ(evaluate(f).at("4.2.12").status, CisStatus::Pass);  // the same check passes a strong list
}

TEST(CisEvaluate, FileModesOwnersAndStatErrors) {
  CisFacts f = kubeadm_node();
  f.kubelet_config = file("/var/lib/kubelet/config.yaml", 0600);
  f.kubeconfig = file("/etc/kubernetes/kubelet.conf", 0640, "root", "adm");
  f.client_ca_file.stat = Unexpected(io_error("stat", "/etc/kubernetes/pki/ca.crt", EACCES));
  const auto rs = evaluate(f);
  EXPECT_EQ(rs.at("4.1.9").status, CisStatus::Pass);
  EXPECT_EQ(rs.at("4.1.5").status, CisStatus::Fail);
  EXPECT_EQ(rs.at("4.1.5").evidence, "/etc/kubernetes/kubelet.conf: permissions=640");
  EXPECT_EQ(rs.at("4.1.6").status, CisStatus::Fail);
  EXPECT_EQ(rs.at("4.1.6").evidence, "/etc/kubernetes/kubelet.conf: root:adm");
  EXPECT_EQ(rs.at("4.1.7").status, CisStatus::Warn);  // manual
  EXPECT_EQ(rs.at("4.1.7").evidence, "stat /etc/kubernetes/pki/ca.crt: Permission denied");
  EXPECT_FALSE(rs.at("4.1.7").fixable);
}

TEST(CisEvaluate, NoCommandLineIsSaidSo) {
  CisFacts f = kubeadm_node();
  f.command_line = KubeletCommandLine{};
  const auto rs = evaluate(f);
  EXPECT_EQ(rs.at("4.2.1").status, CisStatus::Pass);
  EXPECT_THAT(rs.at("4.2.1").evidence,
              HasSubstr("no kubelet command line found (no running kubelet, no service files)"));
  // $kubeletsvc falls back to kubeadm's drop-in.
  EXPECT_THAT(rs.at("4.2.1").remediation, HasSubstr(kDropIn));
}

TEST(CisKubeBench, TheKubeletsFlagsNameTheFiles) {
  KubeletCommandLine cl;
  EXPECT_EQ(cis_kubelet_config(cl, "/var/lib/kubelet/config.yaml"), "/var/lib/kubelet/config.yaml");
  EXPECT_EQ(cis_kubeconfig(cl, "/etc/kubernetes/kubelet.conf"), "/etc/kubernetes/kubelet.conf");
  EXPECT_EQ(cis_client_ca_file(cl, nullptr, "/etc/kubernetes/pki/ca.crt"), "/etc/kubernetes/pki/ca.crt");
  const auto config =
      CisConfigDocument::parse("authentication:\n  x509:\n    clientCAFile: /etc/pki/from-config.crt\n", "c");
  ASSERT_TRUE(config) << config.error().format();
  EXPECT_EQ(cis_client_ca_file(cl, &*config, "/etc/kubernetes/pki/ca.crt"), "/etc/pki/from-config.crt");

  cl.flags = {
      flag("--config", "/etc/kubelet.yaml", "x:1"), flag("--kubeconfig", "/etc/kubelet.kubeconfig", "x:1"),
      flag("--client-ca-file", "/etc/pki/from-flag.crt", "x:1"), flag("--config", "/etc/last.yaml", "x:2")};
  EXPECT_EQ(cis_kubelet_config(cl, "/var/lib/kubelet/config.yaml"), "/etc/last.yaml");  // the last one counts
  EXPECT_EQ(cis_kubeconfig(cl, "/etc/kubernetes/kubelet.conf"), "/etc/kubelet.kubeconfig");
  EXPECT_EQ(cis_client_ca_file(cl, &*config, "/etc/kubernetes/pki/ca.crt"), "/etc/pki/from-flag.crt");
}

TEST(CisKubeBench, ItemsBinOpsAndVerdicts) {
  CisTestItem port;
  port.flag = "--read-only-port";
  port.compare = CisCompare{CisCompareOp::Eq, "0"};
  EXPECT_TRUE(cis_flag_item(port, "kubelet --read-only-port=0 --x=y").result);
  EXPECT_FALSE(cis_flag_item(port, "kubelet --read-only-port=10255").result);
  const auto absent = cis_flag_item(port, "kubelet --x=y");
  EXPECT_FALSE(absent.found);
  EXPECT_FALSE(absent.result);

  CisTestItem unset = port;
  unset.set = false;
  EXPECT_TRUE(cis_flag_item(unset, "kubelet --x=y").result);
  EXPECT_FALSE(cis_flag_item(unset, "kubelet --read-only-port=0").result);

  CisTestItem bare;  // a bare boolean flag reads as true
  bare.flag = "--rotate-certificates";
  bare.compare = CisCompare{CisCompareOp::Eq, "true"};
  EXPECT_EQ(cis_flag_item(bare, "kubelet --rotate-certificates").value, "true");

  const CisItemOutcome pass{true, true, "x"}, fail{false, false, ""};
  EXPECT_TRUE(cis_combine(CisBinOp::Or, {fail, pass}));
  EXPECT_FALSE(cis_combine(CisBinOp::And, {fail, pass}));
  EXPECT_TRUE(cis_combine(CisBinOp::And, {pass, pass}));
  EXPECT_FALSE(cis_combine(CisBinOp::And, {}));  // no items: kube-bench fails the check

  EXPECT_EQ(cis_verdict(true, true), CisStatus::Pass);
  EXPECT_EQ(cis_verdict(false, true), CisStatus::Fail);
  EXPECT_EQ(cis_verdict(false, false), CisStatus::Warn);
}

// cis_flag_item scans where kube-bench compiles `(flag)(=|: *)*([^\s]*) *` (Go's RE2: leftmost
// first, \s is [\t\n\f\r ]). The oracle here is that pattern through std::regex, with \s spelt
// as RE2 has it, over flags and outputs that exercise every branch.
TEST(CisKubeBench, FlagItemFindsWhatKubeBenchsPatternFinds) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  const auto oracle = [](const std::string& flag, const std::string& output) -> std::optional<std::string> {
    if (output.empty() || flag.empty() || output.find(flag) == std::string::npos) return std::nullopt;
    const std::regex re("(" + std::regex_replace(flag, special, "\\$&") + ")(=|: *)*([^\\t\\n\\f\\r ]*) *");
    std::smatch m;
    if (!std::regex_search(output, m, re)) return std::nullopt;
    return m[3].length() ? m[3].str() : (flag.rfind("--", 0) == 0 ? std::string("true") : m[1].str());
  };
  const std::vector<std::string> flags = {"--read-only-port", "readOnlyPort", "--a.b", "x",
                                          "--tls-cipher-suites"};
  const std::vector<std::string> tails = {"",
                                          "=0",
                                          "=",
                                          "==1",
                                          "=:  7",
                                          ": 7",
                                          ":7",
                                          ":   ",
                                          "::  x y",
                                          "= 5",
                                          "=a\tb",
                                          "=a\nb",
                                          "=a\vb",
                                          "=a\fb",
                                          "=a\rb",
                                          " 9",
                                          "=TLS_A,TLS_B --next",
                                          ": [a, b]",
                                          "=\"q r\"",
                                          "=:=:x"};
  int compared = 0;
  for (const auto& f : flags) {
    CisTestItem item;
    item.flag = f;
    for (const auto& tail : tails) {
      for (const std::string& before :
           {std::string("kubelet "), std::string("kubelet --other=1 "), std::string()}) {
        // The flag twice: the first occurrence counts.
        for (const std::string& after : {std::string(), " " + f + "=second"}) {
          const std::string output = before + f + tail + after;
          const auto want = oracle(f, output);
          const auto got = cis_flag_item(item, output);
          ASSERT_TRUE(want) << output;
          EXPECT_TRUE(got.found) << output;
          EXPECT_EQ(got.value, *want) << "flag " << f << " in \"" << output << "\"";
          ++compared;
        }
      }
    }
    EXPECT_FALSE(cis_flag_item(item, "kubelet --unrelated=1").found);
    EXPECT_FALSE(cis_flag_item(item, "").found);
  }
  EXPECT_EQ(compared, 5 * 20 * 3 * 2);
  // A flag that is the prefix of another is found inside it, as kube-bench finds it: the rest
  // of that word is its value.
  CisTestItem prefix;
  prefix.flag = "--port";
  EXPECT_EQ(cis_flag_item(prefix, "kubelet --port-range=1").value, "-range=1");
  EXPECT_EQ(oracle("--port", "kubelet --port-range=1"), "-range=1");
}

// Found in the settings (approverDNSNamePattern) by its fuzz target; the same class in kube-bench
// definitions: a regex compare value is bounded before std::regex compiles it.
TEST(CisDefinitions, ARegexCompareValueIsBoundedBeforeItIsCompiled) {
  const auto defs = [](const std::string& value) {
    return parse_cis_definitions(
        "groups:\n- checks:\n  - id: 4.2.1\n    tests:\n      test_items:\n"
        "      - flag: --x\n        compare:\n          op: regex\n          value: '" +
            value + "'\n",
        "node.yaml");
  };
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"a{6666066666666666666666,6}", "has a repetition count of more than 3 digits"},
           {"(a)\\99999999999999999999", "has a back-reference (\\9)"},
           {"((a{200}){200}){200}", "would build more than 10000 automaton states"},
           {std::string(40, '(') + "a" + std::string(40, ')'), "nests groups more than 32 deep"}}) {
    auto r = defs(value);
    ASSERT_FALSE(r) << value;
    EXPECT_THAT(r.error().format(), HasSubstr("node.yaml:9:18")) << r.error().format();
    EXPECT_THAT(r.error().format(), HasSubstr("regular expression " + message)) << r.error().format();
  }
  auto ok = defs("^(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256|TLS_AES_128_GCM_SHA256)(,|$)");
  ASSERT_TRUE(ok) << ok.error().format();
  // And at evaluation, whatever built the item: an unbounded pattern never reaches std::regex.
  EXPECT_FALSE(cis_compare(CisCompareOp::Regex, "aaaa", "a{6666066666666666666666,6}"));
  EXPECT_TRUE(cis_compare(CisCompareOp::Regex, "TLS_A,TLS_B", "^TLS_[AB](,|$)"));
  // Matched in linear time (base/regex_bounds.hpp): a backtracking match of this pattern against
  // 60 characters would not end within the test's timeout.
  EXPECT_FALSE(cis_compare(CisCompareOp::Regex, std::string(60, 'a'), R"(^([a-z0-9]+-?)*\.x$)"));
}

TEST(CisDefinitions, BuiltInDefinitionsAreTyped) {
  const CisDefinitions& defs = builtin_cis_definitions();
  std::map<std::string, const CisCheckDefinition*> by_id;
  for (const auto& d : defs.checks) by_id[d.id] = &d;
  ASSERT_TRUE(by_id.count("4.1.7") && by_id.count("4.1.10") && by_id.count("4.2.4") && by_id.count("4.2.12"));

  EXPECT_EQ(by_id["4.1.7"]->audit, CisAudit::FilePermissions);
  EXPECT_EQ(by_id["4.1.7"]->file, CisFileRole::ClientCa);
  EXPECT_FALSE(by_id["4.1.7"]->scored);
  EXPECT_EQ(by_id["4.1.10"]->audit, CisAudit::FileOwnership);
  EXPECT_EQ(by_id["4.1.10"]->file, CisFileRole::Config);
  EXPECT_TRUE(by_id["4.1.10"]->scored);

  const CisCheckDefinition& port = *by_id["4.2.4"];
  EXPECT_EQ(port.audit, CisAudit::KubeletCommand);
  EXPECT_TRUE(port.audit_config);
  EXPECT_EQ(port.bin_op, CisBinOp::Or);
  ASSERT_EQ(port.items.size(), 2u);
  EXPECT_EQ(port.items[0].flag, "--read-only-port");
  ASSERT_TRUE(port.items[0].path && port.items[0].compare);
  EXPECT_EQ(port.items[0].path->keys, std::vector<std::string>{"readOnlyPort"});
  EXPECT_EQ(port.items[0].compare->op, CisCompareOp::Eq);
  EXPECT_EQ(port.items[0].compare->value, "0");
  EXPECT_FALSE(port.items[1].set);

  const CisTestItem& suites = by_id["4.2.12"]->items.at(0);
  ASSERT_TRUE(suites.path && suites.compare);
  EXPECT_TRUE(suites.path->range);
  EXPECT_EQ(suites.path->separator, ",");
  EXPECT_EQ(suites.compare->op, CisCompareOp::ValidElements);
}

TEST(CisDefinitions, ErrorsPointAtTheCheckTheFieldAndTheLine) {
  auto op = parse_cis_definitions(
      "groups:\n- checks:\n  - id: 9.7\n    tests:\n      test_items:\n      - flag: --x\n        compare:\n"
      "          op: equals\n          value: a\n",
      "node.yaml");
  ASSERT_FALSE(op);
  EXPECT_EQ(op.error().kind, ErrorKind::Corrupt);
  EXPECT_EQ(op.error().format(), "node.yaml:8:15: check 9.7 compare.op: unknown compare op \"equals\"");

  auto regex = parse_cis_definitions(
      "groups:\n- checks:\n  - id: 9.6\n    tests:\n      test_items:\n      - flag: --x\n        compare:\n"
      "          op: regex\n          value: '(unclosed'\n",
      "node.yaml");
  ASSERT_FALSE(regex);
  EXPECT_THAT(regex.error().format(), HasSubstr("node.yaml:9:18: check 9.6 compare.value: invalid regex"));

  auto yaml = parse_cis_definitions("groups: [\n", "node.yaml");
  ASSERT_FALSE(yaml);
  EXPECT_THAT(yaml.error().format(), HasSubstr("node.yaml:2:1: invalid YAML"));

  auto scored = parse_cis_definitions("groups:\n- checks:\n  - id: 9.5\n    scored: maybe\n", "node.yaml");
  ASSERT_FALSE(scored);
  EXPECT_EQ(scored.error().format(), "node.yaml:4:13: check 9.5 scored: \"maybe\" is not a boolean");
}

}  // namespace
}  // namespace kcd::kubelet

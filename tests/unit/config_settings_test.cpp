// Settings: defaults, file, flags over file, every class of error with its position, numbers
// that mean nothing (issue 10, class 1), and the documents generated from the settings table.
#include "config/settings.hpp"
#include "base/suggest.hpp"
#include "tests/support/subprocess.hpp"

#include <CLI/CLI.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace kcd::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

Environment fake_env(std::string host = "Worker-1.Example", fs::path cwd = "/work") {
  Environment env;
  env.host_name = [host] { return host; };
  env.cwd = std::move(cwd);
  return env;
}

struct Loaded {
  Expected<Settings> result;
};

// Parses argv with a real CLI::App (the flags of `scope`) and loads the settings.
Expected<Settings> load(std::vector<std::string> args, const Environment& env = fake_env(),
                        SettingScope scope = SettingScope::Agent) {
  CLI::App app;
  SettingFlags flags;
  flags.add_to(app, scope);
  std::vector<const char*> argv = {"kubelet-certd"};
  for (auto& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return load_settings(flags, env);
}

class SettingsFile : public ::testing::Test {
 protected:
  fs::path write(const std::string& text) {
    const fs::path p = tmp_ / "config.yaml";
    std::ofstream(p) << text;
    return p;
  }
  Expected<Settings> load_file(const std::string& text, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"--config", write(text).string()};
    args.insert(args.end(), more.begin(), more.end());
    return load(args);
  }
  testing::TempDir tmp_;
};

TEST_F(SettingsFile, EmptyFileMeansAllDefaults) {
  auto s = load_file("# only a comment\n");
  ASSERT_TRUE(s) << s.error().format();
  EXPECT_EQ(s->node_name, "worker-1.example");
  EXPECT_EQ(s->bootstrap_kubeconfig, "/etc/kubernetes/bootstrap-kubelet.conf");
  EXPECT_EQ(s->kubeconfig, "/etc/kubernetes/kubelet.conf");
  EXPECT_EQ(s->cert_dir, "/var/lib/kubelet/pki");
  EXPECT_EQ(s->kubelet_config, "/var/lib/kubelet/config.yaml");
  EXPECT_EQ(s->key_algorithm, KeyAlgorithm::EcdsaP256);
  EXPECT_FALSE(s->client_expiration_seconds.has_value());
  EXPECT_EQ(s->log_level, LogLevel::Info);
  EXPECT_EQ(s->config_file, tmp_ / "config.yaml");
}

TEST_F(SettingsFile, EveryKeyIsRead) {
  auto s = load_file(
      "apiVersion: kubelet-certd.io/v1alpha1\nkind: KubeletCertdConfiguration\nnodeName: node-7\n"
      "bootstrapKubeconfig: /b.conf\nkubeconfig: /k.conf\ncertDir: /pki\nkubeletConfig: /c.yaml\n"
      "keyAlgorithm: RSA-3072\nclientExpirationSeconds: 3600\nlogLevel: debug\n");
  ASSERT_TRUE(s) << s.error().format();
  EXPECT_EQ(s->node_name, "node-7");
  EXPECT_EQ(s->bootstrap_kubeconfig, "/b.conf");
  EXPECT_EQ(s->kubeconfig, "/k.conf");
  EXPECT_EQ(s->cert_dir, "/pki");
  EXPECT_EQ(s->kubelet_config, "/c.yaml");
  EXPECT_EQ(s->key_algorithm, KeyAlgorithm::Rsa3072);
  EXPECT_EQ(s->client_expiration_seconds, 3600);
  EXPECT_EQ(s->log_level, LogLevel::Debug);
}

TEST_F(SettingsFile, FlagsWinOverTheFileForEveryKey) {
  auto s = load_file(
      "nodeName: file-node\nbootstrapKubeconfig: /file/b\nkubeconfig: /file/k\ncertDir: /file/pki\n"
      "kubeletConfig: /file/c\nkeyAlgorithm: RSA-2048\nclientExpirationSeconds: 700\nlogLevel: warn\n",
      {"--node-name", "flag-node", "--bootstrap-kubeconfig", "/flag/b", "--kubeconfig", "/flag/k",
       "--cert-dir", "/flag/pki", "--kubelet-config", "/flag/c", "--key-algorithm", "ECDSA-P384",
       "--client-expiration-seconds", "86400", "--log-level", "error"});
  ASSERT_TRUE(s) << s.error().format();
  EXPECT_EQ(s->node_name, "flag-node");
  EXPECT_EQ(s->bootstrap_kubeconfig, "/flag/b");
  EXPECT_EQ(s->kubeconfig, "/flag/k");
  EXPECT_EQ(s->cert_dir, "/flag/pki");
  EXPECT_EQ(s->kubelet_config, "/flag/c");
  EXPECT_EQ(s->key_algorithm, KeyAlgorithm::EcdsaP384);
  EXPECT_EQ(s->client_expiration_seconds, 86400);
  EXPECT_EQ(s->log_level, LogLevel::Error);
}

TEST(Settings, RelativeFlagPathsAreMadeAbsoluteAgainstTheWorkingDirectory) {
  auto s = load({"--config", "/nonexistent-but-default-is-not-used", "--cert-dir", "pki"});
  // An explicitly named config file must exist.
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("does not exist"), std::string::npos);
  testing::TempDir tmp;
  std::ofstream(tmp / "c.yaml") << "";
  auto ok = load({"--config", (tmp / "c.yaml").string(), "--cert-dir", "pki/../pki2"});
  ASSERT_TRUE(ok) << ok.error().format();
  EXPECT_EQ(ok->cert_dir, "/work/pki2");
}

// Boolean flags as the README writes them: bare, =true, =false; the last one given wins.
TEST(Settings, BooleanFlagsAcceptTheBareForm) {
  testing::TempDir tmp;
  std::ofstream(tmp / "c.yaml") << "serving: false\npatchKubeletConfig: false\n";
  const std::string c = (tmp / "c.yaml").string();
  auto bare = load({"--config", c, "--serving", "--patch-kubelet-config"});
  ASSERT_TRUE(bare) << bare.error().format();
  EXPECT_TRUE(bare->serving);
  EXPECT_TRUE(bare->patch_kubelet_config);
  auto off = load({"--config", c, "--serving=false"});
  ASSERT_TRUE(off) << off.error().format();
  EXPECT_FALSE(off->serving);
  auto on = load({"--config", c, "--serving=true"});
  ASSERT_TRUE(on) << on.error().format();
  EXPECT_TRUE(on->serving);
  auto bad = load({"--config", c, "--serving=maybe"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().format().find("\"maybe\" is not a boolean"), std::string::npos);
}

struct ErrorCase {
  std::string name;
  friend void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }
  std::string yaml;
  int line, column;
  std::string key;
  std::vector<std::string> fragments;
};

class SettingsErrors : public SettingsFile, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(SettingsErrors, AreReportedWithFileLineColumnKeyAndHelp) {
  const auto& c = GetParam();
  auto s = load_file(c.yaml);
  ASSERT_FALSE(s) << "expected an error for " << c.name;
  const Error& e = s.error();
  EXPECT_EQ(e.kind, ErrorKind::Config);
  EXPECT_EQ(e.where.file, (tmp_ / "config.yaml").string());
  EXPECT_EQ(e.where.line, c.line) << e.format();
  EXPECT_EQ(e.where.column, c.column) << e.format();
  EXPECT_EQ(e.where.key, c.key) << e.format();
  for (const auto& f : c.fragments)
    EXPECT_NE(e.format().find(f), std::string::npos) << e.format() << " lacks " << f;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SettingsErrors,
    ::testing::Values(
        ErrorCase{"UnknownKeyWithSuggestion",
                  "nodeName: a\nnodename: b\n",
                  2,
                  1,
                  "nodename",
                  {"unknown key \"nodename\"", "did you mean nodeName?", "allowed keys:"}},
        ErrorCase{"UnknownKeyWithoutSuggestion",
                  "frobnicate: 1\n",
                  1,
                  1,
                  "frobnicate",
                  {"unknown key", "allowed keys"}},
        ErrorCase{"TypoInKey", "certdir: /x\n", 1, 1, "certdir", {"did you mean certDir?"}},
        ErrorCase{"BadEnumWithSuggestion",
                  "nodeName: a\nkeyAlgorithm: ECDSA-256\n",
                  2,
                  15,
                  "keyAlgorithm",
                  {"\"ECDSA-256\" is not allowed", "ECDSA-P256, ECDSA-P384, RSA-2048, RSA-3072, RSA-4096",
                   "did you mean ECDSA-P256?"}},
        ErrorCase{
            "BadLogLevel", "logLevel: verbose\n", 1, 11, "logLevel", {"trace, debug, info, warn, error"}},
        ErrorCase{"IntOutOfRange",
                  "clientExpirationSeconds: 599\n",
                  1,
                  26,
                  "clientExpirationSeconds",
                  {"599 is out of range", "600 to 2147483647"}},
        ErrorCase{"IntTooBig",
                  "clientExpirationSeconds: 2147483648\n",
                  1,
                  26,
                  "clientExpirationSeconds",
                  {"out of range"}},
        ErrorCase{"NotAnInteger",
                  "clientExpirationSeconds: 1h\n",
                  1,
                  26,
                  "clientExpirationSeconds",
                  {"not an integer"}},
        ErrorCase{"ListInsteadOfScalar",
                  "certDir:\n  - /a\n",
                  2,
                  3,
                  "certDir",
                  {"expected a single value, found a list"}},
        ErrorCase{"RelativePathInFile", "certDir: pki\n", 1, 10, "certDir", {"relative path", "absolute"}},
        ErrorCase{"InvalidNodeName",
                  "nodeName: Worker_1\n",
                  1,
                  11,
                  "nodeName",
                  {"not a valid node name", "uppercase"}},
        ErrorCase{"NodeNameWithUnderscore", "nodeName: worker_1\n", 1, 11, "nodeName", {"contains '_'"}},
        ErrorCase{"DuplicateKey", "nodeName: a\nnodeName: b\n", 2, 1, "nodeName", {"duplicate key"}},
        ErrorCase{"WrongApiVersion", "apiVersion: v1\n", 1, 13, "apiVersion", {"kubelet-certd.io/v1alpha1"}},
        ErrorCase{"WrongKind", "kind: Config\n", 1, 7, "kind", {"KubeletCertdConfiguration"}},
        ErrorCase{"NotAMapping", "- a\n- b\n", 1, 1, "", {"must be a mapping"}},
        ErrorCase{"InvalidYaml", "nodeName: [a\n", 2, 1, "", {"invalid YAML"}}),
    [](const ::testing::TestParamInfo<ErrorCase>& i) { return i.param.name; });

TEST(Settings, FlagErrorsNameTheFlag) {
  testing::TempDir tmp;
  std::ofstream(tmp / "c.yaml") << "";
  auto s = load({"--config", (tmp / "c.yaml").string(), "--key-algorithm", "rsa-2048"});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().where.file, "command line");
  EXPECT_EQ(s.error().where.key, "--key-algorithm");
  EXPECT_NE(s.error().format().find("did you mean RSA-2048?"), std::string::npos) << s.error().format();
  auto t = load({"--config", (tmp / "c.yaml").string(), "--client-expiration-seconds", "10"});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().where.key, "--client-expiration-seconds");
}

TEST(Settings, HostNameThatIsNotANodeNameAsksForNodeName) {
  testing::TempDir tmp;
  std::ofstream(tmp / "c.yaml") << "";
  auto s = load({"--config", (tmp / "c.yaml").string()}, fake_env("my_host"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().where.key, "nodeName");
  EXPECT_NE(s.error().message.find("--node-name"), std::string::npos);
  auto ok = load({"--config", (tmp / "c.yaml").string(), "--node-name", "good"}, fake_env("my_host"));
  EXPECT_TRUE(ok);
}

TEST(Settings, NodeNameRules) {
  EXPECT_FALSE(node_name_problem("worker-1.example.com"));
  EXPECT_TRUE(node_name_problem(""));
  EXPECT_TRUE(node_name_problem("-a"));
  EXPECT_TRUE(node_name_problem("a..b"));
  EXPECT_TRUE(node_name_problem(std::string(64, 'a')));
  EXPECT_FALSE(node_name_problem(std::string(63, 'a')));
  EXPECT_TRUE(node_name_problem(std::string(254, 'a')));
}

TEST(Settings, ReferenceTableListsEveryKeyAndFlag) {
  const std::string ref = describe_settings_reference();
  for (const char* k : {"`nodeName`", "`--node-name`", "`bootstrapKubeconfig`", "`--bootstrap-kubeconfig`",
                        "`kubeconfig`", "`certDir`", "`--cert-dir`", "`kubeletConfig`", "`keyAlgorithm`",
                        "`clientExpirationSeconds`", "`--client-expiration-seconds`", "`--config`"}) {
    EXPECT_NE(ref.find(k), std::string::npos) << k;
  }
}

TEST(Suggest, FindsCloseWords) {
  EXPECT_EQ(closest("nodename", {"nodeName", "certDir"}), "nodeName");
  EXPECT_EQ(closest("certDri", {"nodeName", "certDir"}), "certDir");
  EXPECT_EQ(closest("zzzz", {"nodeName", "certDir"}), std::nullopt);
  // A length gap up to the limit is still near; past it nothing is, however long the word.
  EXPECT_EQ(closest("certDirXY", {"nodeName", "certDir"}), "certDir");
  EXPECT_EQ(closest("certDirXYZ", {"nodeName", "certDir"}), std::nullopt);
  EXPECT_EQ(closest("ceDir", {"certDir"}), "certDir");
  EXPECT_EQ(closest(std::string(1000, 'x'), {"nodeName", "certDir"}), std::nullopt);
  EXPECT_EQ(edit_distance("abc", "acb"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

}  // namespace
}  // namespace kcd::config

namespace kcd::config {
namespace {

// One table feeds the parser, --help and the README: the README's settings table is the
// generated one, to the byte.
TEST(SettingsReference, ReadmeTableIsTheGeneratedOne) {
  std::ifstream in(std::string(KCD_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in) << "README.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string readme = ss.str();
  const std::string begin_marker = "<!-- settings-table: generated from config/settings.cpp";
  const std::string end_marker = "<!-- settings-table: end -->";
  const auto begin = readme.find(begin_marker);
  ASSERT_NE(begin, std::string::npos);
  const auto table_start = readme.find('\n', begin) + 1;
  const auto end = readme.find(end_marker, table_start);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(readme.substr(table_start, end - table_start), describe_settings_reference())
      << "regenerate the README's settings table: build/config/kubelet-certd-gendoc readme README.md";
}

}  // namespace
}  // namespace kcd::config

namespace kcd::config {
namespace {

// Issue 10, class 1: numbers that parse but mean nothing. Every numeric setting, from the file
// and from its flag: each value is refused with its position, never read partly, rounded or
// wrapped into something else.
struct Hostile {
  std::string key;
  std::vector<std::string> values;
};

const std::vector<std::string> kNotWholeNumbers = {
    "5x",      "5 ",    " 5",    "+600",   "1.5", "600.0", "1e3",
    "1e400",   "0x258", "0600",  "0o1130", "nan", ".nan",  "NaN",
    "inf",     ".inf",  "-.inf", "-1",     "-0",  "",      "99999999999999999999",
    "600_000", "6,000"};

const std::vector<Hostile>& hostile_numbers() {
  static const std::vector<Hostile> table = [] {
    std::vector<Hostile> t;
    for (const char* key : {"clientExpirationSeconds", "servingExpirationSeconds"}) {
      Hostile h{key, kNotWholeNumbers};
      h.values.insert(h.values.end(), {"599", "0", "2147483648"});
      t.push_back(h);
    }
    Hostile keep{"keepCertificates", kNotWholeNumbers};
    for (auto& v : keep.values)
      if (v == "+600") v = "+3";
    keep.values.insert(keep.values.end(), {"0", "101", "3.0"});
    t.push_back(keep);
    const std::vector<std::string> durations = {"5x",     "5",
                                                "0",      "0s",
                                                "-1s",    "1500ms",
                                                "0.5s",   "1.0000000001s",
                                                "1ns",    "nan",
                                                "NaNs",   "inf",
                                                "infs",   "1e3s",
                                                "1e400s", "0x10s",
                                                "5m ",    " 5m",
                                                "5 m",    "",
                                                "1d",     "99999999999999999999h"};
    Hostile max_expiration{"approverMaxExpirationSeconds", kNotWholeNumbers};
    max_expiration.values.insert(max_expiration.values.end(), {"599", "0", "2147483648"});
    t.push_back(max_expiration);
    Hostile resync{"approverResyncPeriod", durations};
    resync.values.insert(resync.values.end(), {"59s", "25h"});
    t.push_back(resync);
    Hostile interval{"csrCreateInterval", durations};
    interval.values.push_back("721h");
    t.push_back(interval);
    Hostile ca_check{"clusterCACheckInterval", durations};
    ca_check.values.insert(ca_check.values.end(), {"59s", "169h"});
    t.push_back(ca_check);
    Hostile health{"kubeletHealthTimeout", durations};
    health.values.insert(health.values.end(), {"9s", "31m"});
    t.push_back(health);
    t.push_back(Hostile{"rotationWindow",
                        {"nan%-90%",    "70%-nan%",   "inf%-90%",   "0%-90%",    "1e-9%-90%",  "0.001%-90%",
                         "0.01%-0.02%", "49.99%-90%", "70%-95.01%", "70%-100%",  "70%-1e400%", "90%-70%",
                         "70%",         "70%-90%x",   "-70%-90%",   "0x46%-90%", "070%-90%",   "70.123%-90%",
                         "70%-90%-95%", "",           "70 %-90%",   "+70%-90%",  "70%%-90%"}});
    for (const char* key : {"metricsAddress", "approverMetricsAddress"})
      t.push_back(
          Hostile{key,
                  {"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:80 ",
                   "127.0.0.1:0x50", "127.0.0.1:080", "127.0.0.1:80.5", "127.0.0.1:1e3", "127.0.0.1:nan",
                   "127.0.0.1:", "127.0.0.1:-80", "127.0.0.1:99999999999999999999"}});
    return t;
  }();
  return table;
}

TEST(HostileNumbers, CoverEveryNumericSetting) {
  for (const auto& s : describe_settings()) {
    if (!s.numeric()) continue;
    const bool covered = std::any_of(hostile_numbers().begin(), hostile_numbers().end(),
                                     [&](const Hostile& h) { return h.key == s.key; });
    EXPECT_TRUE(covered) << s.key << " is numeric but has no hostile values in this table";
  }
}

// An existing, empty settings file: only the flags count.
std::string empty_settings_file() {
  static const testing::TempDir dir;
  static const std::string path = [] {
    const std::string p = (dir / "empty.yaml").string();
    std::ofstream(p) << "";
    return p;
  }();
  return path;
}

std::string flag_of(const std::string& key) {
  for (const auto& s : describe_settings())
    if (s.key == key) return s.flag;
  ADD_FAILURE() << "no setting " << key;
  return "";
}

SettingScope scope_of(const std::string& key) {
  for (const auto& s : describe_settings())
    if (s.key == key) return s.scope;
  return SettingScope::Agent;
}

TEST(HostileNumbers, AreRefusedFromTheFileWithLineAndColumn) {
  for (const auto& h : hostile_numbers()) {
    for (const auto& value : h.values) {
      // Quoted, so that YAML hands over the text exactly as written (spaces included).
      auto s = parse_settings("nodeName: n\n" + h.key + ": \"" + value + "\"\n",
                              "/etc/kubelet-certd/config.yaml", fake_env());
      if (value.empty() && h.key.find("etricsAddress") != std::string::npos) continue;  // empty: off
      ASSERT_FALSE(s) << h.key << ": \"" << value << "\" was accepted";
      const Error& e = s.error();
      EXPECT_EQ(e.kind, ErrorKind::Config);
      EXPECT_EQ(e.where.file, "/etc/kubelet-certd/config.yaml");
      EXPECT_EQ(e.where.line, 2) << e.format();
      EXPECT_EQ(e.where.column, static_cast<int>(h.key.size()) + 3) << e.format();
      EXPECT_EQ(e.where.key, h.key) << e.format();
      EXPECT_EQ(e.format().rfind("/etc/kubelet-certd/config.yaml:2:" + std::to_string(h.key.size() + 3) +
                                     ": " + h.key + ": ",
                                 0),
                0u)
          << e.format();
    }
  }
}

TEST(HostileNumbers, AreRefusedFromTheCommandLineNamingTheFlag) {
  for (const auto& h : hostile_numbers()) {
    const std::string flag = flag_of(h.key);
    for (const auto& value : h.values) {
      if (value.empty()) continue;  // an empty flag value is "not given" (metricsAddress: off)
      auto s = load({"--config", empty_settings_file(), flag + "=" + value}, fake_env(), scope_of(h.key));
      ASSERT_FALSE(s) << flag << "=" << value << " was accepted";
      const Error& e = s.error();
      EXPECT_EQ(e.kind, ErrorKind::Config);
      EXPECT_EQ(e.where.file, "command line");
      EXPECT_EQ(e.where.key, flag);
      EXPECT_EQ(e.format().rfind("command line: " + flag + ": ", 0), 0u) << e.format();
    }
  }
}

// Issue 11: the approver's settings share the file; their flags belong to `approve` only.
TEST(ApproverSettings, DefaultsFileFlagsAndErrors) {
  auto d = parse_settings("", "c.yaml", fake_env());
  ASSERT_TRUE(d) << d.error().format();
  EXPECT_EQ(d->approver_kubeconfig, "/etc/kubernetes/kubelet-certd-approver.conf");
  EXPECT_EQ(d->approver_identity, "worker-1.example");
  EXPECT_EQ(d->approver_max_expiration_seconds, 367LL * 86400);
  EXPECT_EQ(d->approver_resync_period, std::chrono::minutes(10));
  ASSERT_TRUE(d->approver_metrics_address);
  EXPECT_EQ(d->approver_metrics_address->text(), "127.0.0.1:10272");
  EXPECT_TRUE(d->approver_dns_name_pattern.empty());
  EXPECT_TRUE(d->approver_allowed_ip_ranges.empty());

  auto f = parse_settings(
      "approverDNSNamePattern: '^[a-z0-9-]+\\.nodes\\.example$'\n"
      "approverAllowedIPRanges: [10.0.0.0/8, 'fd00::/64']\napproverIdentity: cp-1\n",
      "c.yaml", fake_env());
  ASSERT_TRUE(f) << f.error().format();
  EXPECT_EQ(f->approver_dns_name_pattern, "^[a-z0-9-]+\\.nodes\\.example$");
  EXPECT_EQ(f->approver_allowed_ip_ranges, (std::vector<std::string>{"10.0.0.0/8", "fd00::/64"}));
  EXPECT_EQ(f->approver_identity, "cp-1");

  auto bad_pattern = parse_settings("approverDNSNamePattern: '(['\n", "c.yaml", fake_env());
  ASSERT_FALSE(bad_pattern);
  EXPECT_THAT(bad_pattern.error().format(),
              HasSubstr("c.yaml:1:25: approverDNSNamePattern: \"([\" is not a regular"));
  auto bad_range = parse_settings("approverAllowedIPRanges: [10.0.0.0/33]\n", "c.yaml", fake_env());
  ASSERT_FALSE(bad_range);
  EXPECT_THAT(bad_range.error().format(),
              HasSubstr("c.yaml:1:27: approverAllowedIPRanges: \"10.0.0.0/33\" is not a CIDR"));

  auto flags = load({"--config", empty_settings_file(), "--kubeconfig", "/etc/a.conf", "--allowed-ip-range",
                     "10.0.0.0/8,192.168.0.0/16", "--log-level", "debug"},
                    fake_env(), SettingScope::Approver);
  ASSERT_TRUE(flags) << flags.error().format();
  EXPECT_EQ(flags->approver_kubeconfig, "/etc/a.conf");
  EXPECT_EQ(flags->kubeconfig, "/etc/kubernetes/kubelet.conf") << "approve's --kubeconfig is the approver's";
  EXPECT_EQ(flags->approver_allowed_ip_ranges.size(), 2u);
  EXPECT_EQ(flags->log_level, LogLevel::Debug);
  EXPECT_THROW(load({"--identity", "x"}), CLI::ParseError) << "not a flag of the agent's commands";
}

// Found by the settings fuzz target: libstdc++'s regex compiler reads repetition counts and
// back-reference numbers into a `long` without an overflow check (UBSan), and nested counts build
// automata as large as memory. Such patterns are refused, with what and where, before std::regex
// sees them; every DNS-name pattern an operator needs still compiles.
TEST(Settings, ARegularExpressionIsBoundedBeforeItIsCompiled) {
  struct Case {
    std::string pattern;
    std::string message;
  } cases[] = {
      {"*tc{6666066666666666666666,6}", "has a repetition count of more than 3 digits (at most 255)"},
      {"a{256}", "has a repetition count over 255"},
      {"a)b{99999}", "has a repetition count of more than 3 digits"},  // after an unmatched ')'
      {"x\\999999999999999999999999999", "has a back-reference (\\9)"},
      {"(a)\\1", "has a back-reference (\\1)"},
      {"[\\1]", "has a back-reference (\\1)"},
      {"((a{200}){200}){200}", "would build more than 10000 automaton states"},
      // Stacked quantifiers multiply too (the settings fuzz target: "...{07}+++...{07}...").
      {"a{20}{20}{30}", "would build more than 10000 automaton states"},
      {"WZ+/+++*++++++++++++++++++++++{07}+++++++++{07}++++++++++{06}", "would build more than 10000"},
      {std::string(40, '(') + "a" + std::string(40, ')'), "nests groups more than 32 deep"},
      {"\\xff", ""},  // four printable characters: backslash, x, f, f
  };
  for (const auto& c : cases) {
    auto r = parse_settings("approverDNSNamePattern: '" + c.pattern + "'\n", "c.yaml", fake_env());
    if (c.message.empty()) {
      EXPECT_TRUE(r) << c.pattern << ": " << r.error().format();
      continue;
    }
    ASSERT_FALSE(r) << c.pattern;
    EXPECT_THAT(r.error().format(), HasSubstr("c.yaml:1:25: approverDNSNamePattern: regular expression"))
        << c.pattern;
    EXPECT_THAT(r.error().format(), HasSubstr(c.message)) << c.pattern;
  }
  // A byte outside printable ASCII: refused, and the pattern is not echoed.
  auto binary = parse_settings("approverDNSNamePattern: \"a\\xffb\"\n", "c.yaml", fake_env());
  ASSERT_FALSE(binary);
  EXPECT_THAT(binary.error().format(), HasSubstr("has a byte that is not printable ASCII"));
  // What operators write still compiles.
  for (const std::string ok : {"^[a-z0-9-]+\\.nodes\\.example$", "(?:node|worker)-[0-9]{1,3}\\.example\\.com",
                               "[a-z]{2,63}(\\.[a-z0-9-]{1,63}){0,4}", "ip-[0-9-]+\\.ec2\\.internal"}) {
    auto r = parse_settings("approverDNSNamePattern: '" + ok + "'\n", "c.yaml", fake_env());
    EXPECT_TRUE(r) << ok << ": " << (r ? std::string() : r.error().format());
  }
}
TEST(HostileNumbers, ErrorsSayWhatIsWrong) {
  const auto message = [](const std::string& key, const std::string& value) {
    auto s = parse_settings(key + ": \"" + value + "\"\n", "c.yaml", fake_env());
    return s ? std::string("accepted") : s.error().format();
  };
  EXPECT_THAT(message("keepCertificates", "5x"),
              HasSubstr("\"5x\" is not an integer; use a whole number from 1 to 100"));
  EXPECT_THAT(message("keepCertificates", "010"), HasSubstr("leading zero"));
  EXPECT_THAT(message("keepCertificates", "0x10"), HasSubstr("hexadecimal"));
  EXPECT_THAT(message("keepCertificates", "101"), HasSubstr("101 is out of range"));
  EXPECT_THAT(message("clientExpirationSeconds", "1e400"), HasSubstr("not an integer"));
  EXPECT_THAT(message("csrCreateInterval", "1500ms"),
              HasSubstr("not a whole number of seconds; use 1s to 720h"));
  EXPECT_THAT(message("csrCreateInterval", "1.5ms"), HasSubstr("finer than a millisecond"));
  EXPECT_THAT(message("kubeletHealthTimeout", "0"), HasSubstr("\"0\" is out of range; use 10s to 30m"));
  EXPECT_THAT(message("rotationWindow", "nan%-90%"), HasSubstr("is not a window"));
  EXPECT_THAT(message("rotationWindow", "0.01%-0.02%"), HasSubstr("CSR loop"));
  EXPECT_THAT(message("rotationWindow", "70%-99%"), HasSubstr("before this one expires"));
  EXPECT_THAT(message("rotationWindow", "90%-70%"), HasSubstr("FROM is above TO"));
  EXPECT_THAT(message("metricsAddress", "127.0.0.1:0x50"), HasSubstr("port \"0x50\" is hexadecimal"));
}

TEST(SettingsLimits, DeeplyNestedOrAliasedDocumentsAreRefusedWithTheirPosition) {
  std::string deep = "nodeName: n\nx: ";
  for (int i = 0; i < 70; ++i) deep += "[";
  for (int i = 0; i < 70; ++i) deep += "]";
  auto s = parse_settings(deep + "\n", "c.yaml", fake_env());
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().format(), HasSubstr("c.yaml:2:"));
  EXPECT_THAT(s.error().message, HasSubstr("over a limit: nested more than 64 levels deep"));
}

TEST(ExactNumbers, AreStoredAsWritten) {
  auto s = parse_settings(
      "nodeName: n\nclientExpirationSeconds: 2147483647\nservingExpirationSeconds: 600\nkeepCertificates: "
      "100\n"
      "csrCreateInterval: 1h30m\nkubeletHealthTimeout: 1.5m\nrotationWindow: 50.5% - 95%\n"
      "metricsAddress: \"[::1]:65535\"\n",
      "c.yaml", fake_env());
  ASSERT_TRUE(s) << s.error().format();
  EXPECT_EQ(s->client_expiration_seconds, 2147483647);
  EXPECT_EQ(s->serving_expiration_seconds, 600);
  EXPECT_EQ(s->keep_certificates, 100);
  EXPECT_EQ(s->csr_create_interval, std::chrono::seconds(5400));
  EXPECT_EQ(s->kubelet_health_timeout, std::chrono::seconds(90));
  EXPECT_DOUBLE_EQ(s->rotation_window_from, 0.505);
  EXPECT_DOUBLE_EQ(s->rotation_window_to, 0.95);
  ASSERT_TRUE(s->metrics_address);
  EXPECT_EQ(s->metrics_address->ip, "::1");
  EXPECT_EQ(s->metrics_address->port, 65535);
  EXPECT_EQ(s->metrics_address->text(), "[::1]:65535");
  auto flags = load({"--config", empty_settings_file(), "--rotation-window", "70-90", "--metrics-address",
                     "localhost:1", "--csr-create-interval", "1s", "--keep-certificates", "1"});
  ASSERT_TRUE(flags) << flags.error().format();
  EXPECT_DOUBLE_EQ(flags->rotation_window_from, 0.7);
  EXPECT_DOUBLE_EQ(flags->rotation_window_to, 0.9);
  EXPECT_EQ(flags->metrics_address->ip, "127.0.0.1");
  EXPECT_EQ(flags->csr_create_interval, std::chrono::seconds(1));
  EXPECT_EQ(flags->keep_certificates, 1);
}

TEST(ExactNumbers, EmptyMetricsAddressTurnsTheEndpointOff) {
  auto file = parse_settings("metricsAddress: \"\"\n", "c.yaml", fake_env());
  ASSERT_TRUE(file) << file.error().format();
  EXPECT_FALSE(file->metrics_address);
  auto flag = load({"--config", empty_settings_file(), "--metrics-address", ""});
  ASSERT_TRUE(flag) << flag.error().format();
  EXPECT_FALSE(flag->metrics_address);
}

// Every default is written once, in the table, and read by the setting's own parser.
TEST(SettingsTable, DefaultsAreTheTablesAndWithinTheirOwnRange) {
  const Settings d;
  EXPECT_EQ(d.bootstrap_kubeconfig, "/etc/kubernetes/bootstrap-kubelet.conf");
  EXPECT_EQ(d.kubeconfig, "/etc/kubernetes/kubelet.conf");
  EXPECT_EQ(d.cert_dir, "/var/lib/kubelet/pki");
  EXPECT_EQ(d.kubelet_config, "/var/lib/kubelet/config.yaml");
  EXPECT_EQ(d.key_algorithm, KeyAlgorithm::EcdsaP256);
  EXPECT_FALSE(d.client_expiration_seconds);
  EXPECT_FALSE(d.serving_expiration_seconds);
  EXPECT_EQ(d.log_level, LogLevel::Info);
  EXPECT_DOUBLE_EQ(d.rotation_window_from, 0.7);
  EXPECT_DOUBLE_EQ(d.rotation_window_to, 0.9);
  EXPECT_EQ(d.csr_create_interval, std::chrono::hours(1));
  EXPECT_EQ(d.keep_certificates, 3);
  EXPECT_TRUE(d.serving);
  EXPECT_EQ(d.kubelet_restart, KubeletRestart::Auto);
  EXPECT_EQ(d.kubelet_unit, "kubelet.service");
  EXPECT_TRUE(d.kubelet_path.empty());
  EXPECT_EQ(d.kubelet_health_timeout, std::chrono::seconds(90));
  EXPECT_TRUE(d.patch_kubelet_config);
  EXPECT_EQ(d.hardening, Hardening::Cis);
  EXPECT_EQ(d.client_ca_file, "/etc/kubernetes/pki/ca.crt");
  ASSERT_TRUE(d.metrics_address);
  EXPECT_EQ(d.metrics_address->text(), "127.0.0.1:10271");
  EXPECT_TRUE(d.metrics_textfile.empty());
}

// The packaged /etc/kubelet-certd/config.yaml is generated from the table: as shipped it means
// all defaults, and with every literal default uncommented it still does.
TEST(SettingsTable, PackagedSettingsFileSpellsOutTheDefaults) {
  const std::string file = describe_settings_file();
  auto shipped = parse_settings(file, "config.yaml", fake_env());
  ASSERT_TRUE(shipped) << shipped.error().format();
  std::string uncommented;
  std::istringstream lines(file);
  for (std::string line; std::getline(lines, line);) {
    bool literal = false;
    for (const auto& setting : describe_settings()) {
      const std::string prefix = "# " + setting.key + ": ";
      literal = literal ||
                (line.rfind(prefix, 0) == 0 && line.size() > prefix.size() && line[prefix.size()] != ' ');
    }
    uncommented += (literal ? line.substr(2) : line) + "\n";
  }
  EXPECT_NE(uncommented, file);
  auto spelled = parse_settings(uncommented, "config.yaml", fake_env());
  ASSERT_TRUE(spelled) << spelled.error().format() << "\n" << uncommented;
  Settings expected = *shipped;
  EXPECT_EQ(*spelled, expected) << uncommented;
  for (const auto& s : describe_settings())
    EXPECT_NE(file.find("# " + s.key + ":"), std::string::npos) << s.key;
}

// kubelet-certd(8) is generated from the same table: every key and flag is in its SETTINGS
// section, with roff's escapes, and nothing of the template is left unexpanded.
TEST(SettingsTable, ManPageDocumentsEverySetting) {
  std::ifstream in(std::string(KCD_SOURCE_DIR) + "/packaging/doc/kubelet-certd.8.in");
  ASSERT_TRUE(in) << "packaging/doc/kubelet-certd.8.in not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string page = render_man_page(ss.str(), "9.9.9");
  EXPECT_EQ(page.find('@'), std::string::npos) << "an unexpanded @...@ is left";
  EXPECT_THAT(page, HasSubstr(".TH KUBELET-CERTD 8"));
  EXPECT_THAT(page, HasSubstr("kubelet-certd 9.9.9"));
  EXPECT_THAT(page, HasSubstr(".SH SETTINGS\n"));
  for (const auto& s : describe_settings()) {
    std::string flag;
    for (char c : s.flag) flag += c == '-' ? std::string("\\-") : std::string(1, c);
    EXPECT_THAT(page, HasSubstr("\\fB" + s.key + "\\fR, \\fB" + flag + "\\fR")) << s.key;
  }
  EXPECT_THAT(page, HasSubstr("Default: 70%\\-90%."));
  EXPECT_THAT(page, HasSubstr("Allowed: 1s\\-720h."));
}

}  // namespace
}  // namespace kcd::config

// Settings: defaults, file, flags over file, and every class of error with its position.
#include "config/settings.hpp"
#include "base/suggest.hpp"
#include "tests/support/subprocess.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace kcd::config {
namespace {

namespace fs = std::filesystem;

Environment fake_env(std::string host = "Worker-1.Example", fs::path cwd = "/work") {
  Environment env;
  env.host_name = [host] { return host; };
  env.cwd = std::move(cwd);
  return env;
}

struct Loaded {
  Expected<Settings, ConfigError> result;
};

// Parses argv with a real CLI::App and loads the settings.
Expected<Settings, ConfigError> load(std::vector<std::string> args, const Environment& env = fake_env()) {
  CLI::App app;
  SettingFlags flags;
  flags.add_to(app);
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
  Expected<Settings, ConfigError> load_file(const std::string& text, std::vector<std::string> more = {}) {
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
  EXPECT_EQ(s->log_level, "info");
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
  EXPECT_EQ(s->log_level, "debug");
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
  EXPECT_EQ(s->log_level, "error");
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
  const ConfigError& e = s.error();
  EXPECT_EQ(e.file, (tmp_ / "config.yaml").string());
  EXPECT_EQ(e.line, c.line) << e.format();
  EXPECT_EQ(e.column, c.column) << e.format();
  EXPECT_EQ(e.key, c.key) << e.format();
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
  EXPECT_EQ(s.error().file, "command line");
  EXPECT_EQ(s.error().key, "--key-algorithm");
  EXPECT_NE(s.error().format().find("did you mean RSA-2048?"), std::string::npos) << s.error().format();
  auto t = load({"--config", (tmp / "c.yaml").string(), "--client-expiration-seconds", "10"});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().key, "--client-expiration-seconds");
}

TEST(Settings, HostNameThatIsNotANodeNameAsksForNodeName) {
  testing::TempDir tmp;
  std::ofstream(tmp / "c.yaml") << "";
  auto s = load({"--config", (tmp / "c.yaml").string()}, fake_env("my_host"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().key, "nodeName");
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
      << "regenerate the README's settings table from describe_settings_reference()";
}

}  // namespace
}  // namespace kcd::config

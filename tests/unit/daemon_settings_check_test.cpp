// Issue 10, classes 4 and 5: settings that parse but cannot work are refused once, at load
// time, at the setting's position; folders another user could change are never written.
#include "daemon/settings_check.hpp"
#include "tests/support/subprocess.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace kcd::daemon {
namespace {

namespace fs = std::filesystem;

config::Environment fake_env() {
  config::Environment env;
  env.host_name = [] { return std::string("worker-1"); };
  env.cwd = "/work";
  return env;
}

class Layout : public ::testing::Test {
 protected:
  // Loads `yaml` (after apiVersion/kind) as the settings file plus `args`, then checks it.
  std::string problem(const std::string& yaml, std::vector<std::string> args = {}) {
    std::ofstream(config_) << "apiVersion: kubelet-certd.io/v1alpha1\nkind: KubeletCertdConfiguration\n"
                           << yaml;
    CLI::App app;
    config::SettingFlags flags;
    flags.add_to(app);
    std::vector<std::string> all = {"kubelet-certd", "--config", config_.string()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (auto& a : all) argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
    auto s = load_checked_settings(flags, fake_env());
    if (s) return {};
    EXPECT_EQ(s.error().kind, ErrorKind::Config);
    return s.error().format();
  }
  std::string dir() const { return tmp_.path().string(); }
  testing::TempDir tmp_;
  fs::path config_ = tmp_ / "config.yaml";
};

TEST_F(Layout, TheDefaultsAndDistinctFilesAreFine) {
  EXPECT_EQ(problem(""), "");
  EXPECT_EQ(problem("metricsTextfile: " + dir() + "/kcd.prom\ncertDir: " + dir() + "/pki\n"), "");
}

TEST_F(Layout, TwoOutputsOnOneFileAreRefusedAtTheSecondsPosition) {
  const std::string why =
      problem("kubeconfig: " + dir() + "/kubelet.conf\nmetricsTextfile: " + dir() + "/kubelet.conf\n");
  EXPECT_NE(why.find(config_.string() + ":4:18: metricsTextfile: " + dir() +
                     "/kubelet.conf is also kubeconfig (" + config_.string() + ":3:13: kubeconfig)"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("point metricsTextfile at another file"), std::string::npos) << why;
}

TEST_F(Layout, AFlagAgainstTheDefaultNamesBoth) {
  const std::string why = problem("", {"--client-ca-file", "/etc/kubernetes/kubelet.conf"});
  EXPECT_NE(why.find("command line: --client-ca-file: /etc/kubernetes/kubelet.conf is also kubeconfig "
                     "(kubeconfig (default))"),
            std::string::npos)
      << why;
}

TEST_F(Layout, OneFileThroughALinkIsStillOneFile) {
  std::ofstream(tmp_ / "kubelet.conf") << "x";
  fs::create_symlink(tmp_ / "kubelet.conf", tmp_ / "metrics.prom");
  const std::string why =
      problem("kubeconfig: " + dir() + "/kubelet.conf\nmetricsTextfile: " + dir() + "/metrics.prom\n");
  EXPECT_NE(why.find("metricsTextfile: " + dir() + "/metrics.prom is also kubeconfig"), std::string::npos)
      << why;
}

TEST_F(Layout, AnOutputOnAnInputWouldDestroyIt) {
  std::string why = problem("bootstrapKubeconfig: " + dir() + "/k.conf\nkubeconfig: " + dir() + "/k.conf\n");
  EXPECT_NE(why.find(":4:13: kubeconfig: " + dir() +
                     "/k.conf is also bootstrapKubeconfig, which kubelet-certd reads"),
            std::string::npos)
      << why;
  why = problem("metricsTextfile: " + config_.string() + "\n");
  EXPECT_NE(why.find("is also the settings file (--config)"), std::string::npos) << why;
}

TEST_F(Layout, OurOwnNamesInCertDirAreNotOutputs) {
  for (const std::string name :
       {"kubelet-certd-state.json", "kubelet-certd.sock", "kubelet-client-current.pem",
        "kubelet-server-2026-01-01-00-00-00.pem", "kubelet-certd-client-pending.key"}) {
    const std::string why =
        problem("certDir: " + dir() + "/pki\nmetricsTextfile: " + dir() + "/pki/" + name + "\n");
    EXPECT_NE(why.find("takes one of kubelet-certd's own names in certDir"), std::string::npos)
        << name << ": " << why;
  }
  EXPECT_NE(problem("certDir: " + dir() + "/pki\nkubeconfig: " + dir() + "/pki\n").find("is certDir itself"),
            std::string::npos);
  EXPECT_EQ(problem("certDir: " + dir() + "/pki\nmetricsTextfile: " + dir() + "/pki/kcd.prom\n"), "");
}

TEST_F(Layout, ACertDirTooLongForTheControlSocketIsRefused) {
  const std::string fits = "/" + std::string(107 - 1 - 18 - 1, 'a');  // + "/kubelet-certd.sock" = 107
  EXPECT_EQ(problem("certDir: " + fits + "\n"), "");
  const std::string why = problem("certDir: " + fits + "b\n");
  EXPECT_NE(why.find(config_.string() + ":3:10: certDir: the control socket " + fits +
                     "b/kubelet-certd.sock would be 108 bytes long, but a socket path holds at most 107; "
                     "choose a certDir of at most 88 bytes"),
            std::string::npos)
      << why;
}

// Class 4: the folders we write must be closed to other users.
TEST(WrittenDirectories, AFolderOthersCanWriteIsRefusedNamingTheSetting) {
  testing::TempDir tmp;
  config::Settings s;
  s.cert_dir = tmp / "pki";
  s.kubeconfig = tmp / "etc/kubelet.conf";
  s.kubelet_config = tmp / "kubelet/config.yaml";
  s.client_ca_file = tmp / "kubelet/ca.crt";
  fs::create_directories(tmp / "pki");
  fs::create_directories(tmp / "kubelet");
  EXPECT_TRUE(check_written_directories(s, true));
  ASSERT_EQ(::chmod((tmp / "kubelet").c_str(), 0775), 0);
  EXPECT_TRUE(check_written_directories(s, false)) << "the kubelet's folder is written only when patching";
  auto refused = check_written_directories(s, true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Refused);
  EXPECT_EQ(refused.error().format().rfind(
                "kubeletConfig: " + (tmp / "kubelet").string() + ": writable by its group", 0),
            0u)
      << refused.error().format();
  ASSERT_EQ(::chmod((tmp / "pki").c_str(), 0777), 0);
  refused = check_written_directories(s, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().format().rfind("certDir: ", 0), 0u) << refused.error().format();
}

}  // namespace
}  // namespace kcd::daemon

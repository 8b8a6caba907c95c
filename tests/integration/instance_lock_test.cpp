// Issue 13, "one writer per file": the instance lock covers every file an instance writes, not
// only certDir. A second instance whose files overlap the first's (the same kubeconfig, also
// through a link) exits 1 naming the other instance and the shared path; one with files of its
// own runs. And "written through, not replaced": files that are links stay links.
#include "daemon/instance_lock.hpp"
#include "tests/integration/harness.hpp"

#include <gmock/gmock.h>

namespace kcd::testing {
namespace {

using ::testing::HasSubstr;

class InstanceLocks : public AgentHarness {
 protected:
  // `run --once` as a second instance with certDir `dir` and these files.
  RunOutput second(const fs::path& dir, const fs::path& kubeconfig, const fs::path& kubelet_config,
                   const fs::path& client_ca) {
    std::vector<std::string> a = {KCD_BINARY,
                                  "run",
                                  "--once",
                                  "--timeout",
                                  "60s",
                                  "--config",
                                  config_file().string(),
                                  "--bootstrap-kubeconfig",
                                  server_->bootstrap_kubeconfig_path().string(),
                                  "--kubeconfig",
                                  kubeconfig.string(),
                                  "--cert-dir",
                                  dir.string(),
                                  "--kubelet-config",
                                  kubelet_config.string(),
                                  "--client-ca-file",
                                  client_ca.string(),
                                  "--metrics-address",
                                  ""};
    auto out = run_process(a, tmp_ / "logs2", 90s);
    logs_ += out.out + out.err;
    return out;
  }
};

TEST_F(InstanceLocks, ASecondInstanceSharingAFileIsRefusedNamingTheOtherAndThePath) {
  write_config("metricsAddress: \"\"\nserving: false\n");
  auto first = daemon();
  ASSERT_TRUE(eventually([&] { return current().has_value(); }, 30s)) << first->err();

  // Another certDir, the same kubeconfig.
  const auto shared = second(tmp_ / "pki2", kubeconfig(), tmp_ / "k2.yaml", tmp_ / "ca2" / "ca.crt");
  EXPECT_EQ(shared.exit_code, 1) << shared.err;
  EXPECT_THAT(shared.err,
              HasSubstr("kubeconfig " + kubeconfig().string() + " is written by another kubelet-certd"));
  EXPECT_THAT(shared.err, HasSubstr("pid=" + std::to_string(first->pid())));
  EXPECT_THAT(shared.err, HasSubstr("certDir=" + cert_dir().string()));
  EXPECT_FALSE(fs::exists(tmp_ / "pki2" / "kubelet-client-current.pem")) << "nothing was done";

  // The same kubelet config through a link.
  fs::create_symlink(kubelet_config(), tmp_ / "kubelet-config-link.yaml");
  const auto linked =
      second(tmp_ / "pki3", tmp_ / "k3.conf", tmp_ / "kubelet-config-link.yaml", tmp_ / "ca3" / "ca.crt");
  EXPECT_EQ(linked.exit_code, 1) << linked.err;
  EXPECT_THAT(linked.err, HasSubstr("kubeletConfig " + (tmp_ / "kubelet-config-link.yaml").string()));
  EXPECT_THAT(linked.err, HasSubstr(daemon::OutputLocks::lock_path(kubelet_config()).string()));

  // Files of its own: it runs (no false conflict).
  const auto own = second(tmp_ / "pki4", tmp_ / "k4.conf", tmp_ / "k4.yaml", tmp_ / "ca4" / "ca.crt");
  EXPECT_EQ(own.exit_code, 0) << own.err;

  first->signal(SIGTERM);
  EXPECT_EQ(first->wait_for(10s), 0);
  collect(*first);
  // Once the first is gone, its files are free.
  const auto after = second(tmp_ / "pki2", kubeconfig(), tmp_ / "k2.yaml", tmp_ / "ca2" / "ca.crt");
  EXPECT_EQ(after.exit_code, 0) << after.err;
}

// Configuration management made kubelet.conf and the kubelet config links into its own folder:
// both stay links, and the files they name hold what kubelet-certd wrote.
TEST_F(InstanceLocks, FilesThatAreLinksAreWrittenThroughAndStayLinks) {
  write_config("metricsAddress: \"\"\nserving: false\n");
  fs::create_directories(tmp_ / "cm");
  fs::permissions(tmp_ / "cm", static_cast<fs::perms>(0755));
  std::ofstream(tmp_ / "cm" / "kubelet-config.yaml")
      << "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n# managed by cm\n";
  fs::create_symlink(tmp_ / "cm" / "kubelet-config.yaml", kubelet_config());
  fs::create_symlink(tmp_ / "cm" / "kubelet.conf", kubeconfig());  // dangling until written
  const auto out = run("run", {"--once", "--metrics-address", ""});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_TRUE(fs::is_symlink(kubeconfig()));
  EXPECT_TRUE(fs::is_symlink(kubelet_config()));
  EXPECT_NE(read_text(tmp_ / "cm" / "kubelet.conf").find("client-certificate"), std::string::npos);
  const std::string patched = read_text(tmp_ / "cm" / "kubelet-config.yaml");
  EXPECT_NE(patched.find("readOnlyPort: 0"), std::string::npos) << patched;
  EXPECT_NE(patched.find("# managed by cm"), std::string::npos);
}

TEST_F(InstanceLocks, ALinkIntoAFolderOthersCanWriteIsRefusedAtStart) {
  write_config("metricsAddress: \"\"\nserving: false\n");
  fs::create_directories(tmp_ / "open");
  fs::permissions(tmp_ / "open", static_cast<fs::perms>(0777));
  fs::create_symlink(tmp_ / "open" / "kubelet.conf", kubeconfig());
  const auto out = run("run", {"--once", "--metrics-address", ""});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("kubeconfig: " + kubeconfig().string() + " is a link to " +
                                 (tmp_ / "open" / "kubelet.conf").string()));
  EXPECT_FALSE(fs::exists(cert_dir() / "kubelet-client-current.pem")) << "nothing was done";
}

}  // namespace
}  // namespace kcd::testing

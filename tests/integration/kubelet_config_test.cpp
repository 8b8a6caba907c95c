// kubelet-config.yaml patching by the daemon, the CA file it writes for the kubelet, and
// `kubelet-certd check` (table, JSON, --fix, flag overrides) on a fake node tree.
#include "kubelet/kubelet_config.hpp"
#include "tests/integration/harness.hpp"

#include <nlohmann/json.hpp>
#include <sys/stat.h>

namespace kcd::testing {
namespace {

using json = nlohmann::json;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<unsigned>(st.st_mode & 07777) : 0u;
}

std::string fixture(const std::string& name) {
  return read_text(fs::path(KCD_FIXTURES_DIR) / "kubelet-config" / name);
}

class KubeletConfig : public AgentHarness {
 protected:
  void SetUp() override {
    devapi::Options opts;
    opts.serving_approver = devapi::ServingApprover::All;
    start_devapi(opts);
    write_config();
    // A kubeadm node: the kubelet's drop-in and flags file under a fake system root.
    root_ = tmp_ / "root";
    write(root_ / "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
          "[Service]\nEnvironment=\"KUBELET_KUBECONFIG_ARGS=--kubeconfig=" + kubeconfig().string() +
              "\"\n"
              "Environment=\"KUBELET_CONFIG_ARGS=--config=" +
              kubelet_config().string() +
              "\"\n"
              "ExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS "
              "$KUBELET_EXTRA_ARGS\n",
          0644);
  }

  static void write(const fs::path& p, const std::string& text, unsigned mode) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    fs::permissions(p, static_cast<fs::perms>(mode));
  }

  RunOutput check(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--system-root", root_.string()});
    return run("check", extra);
  }

  static std::map<std::string, std::string> statuses(const json& j) {
    std::map<std::string, std::string> m;
    for (const auto& c : j["checks"]) m[c["id"]] = c["status"];
    return m;
  }

  fs::path root_;
};

TEST_F(KubeletConfig, DaemonWritesTheCaAndPatchesTheConfigKeepingABackup) {
  write(kubelet_config(), fixture("commented.in.yaml"), 0644);
  const std::string original = read_text(kubelet_config());
  auto out = run("run", {"--once"});
  ASSERT_EQ(out.exit_code, 0) << out.err;

  // The CA from the kubeconfig, readable by the kubelet (0644).
  ASSERT_TRUE(fs::exists(client_ca()));
  EXPECT_EQ(mode_of(client_ca()), 0644u);
  EXPECT_EQ(read_text(client_ca()), server_->ca_pem());

  const std::string patched = read_text(kubelet_config());
  EXPECT_EQ(mode_of(kubelet_config()), 0600u);
  EXPECT_NE(patched.find("tlsCertFile: " + (cert_dir() / "kubelet-server-current.pem").string()),
            std::string::npos)
      << patched;
  EXPECT_NE(patched.find("clientCAFile: " + client_ca().string()), std::string::npos) << patched;
  EXPECT_NE(patched.find("# Owner: platform team (ticket OPS-1234). Do not remove these comments."),
            std::string::npos);
  EXPECT_NE(patched.find("enabled: false      # TODO: turn off once monitoring v2 is live"),
            std::string::npos)
      << patched;
  // Patched at start (hardening, CA) and again once the serving certificate was installed:
  // the .bak is the version before the last change, the .orig the operator's own.
  EXPECT_EQ(read_text(fs::path(kubelet_config().string() + ".kubelet-certd.orig")), original);
  const std::string bak = read_text(fs::path(kubelet_config().string() + ".kubelet-certd.bak"));
  EXPECT_NE(bak, original);
  EXPECT_EQ(bak.find("tlsCertFile"), std::string::npos);
  EXPECT_EQ(mode_of(fs::path(kubelet_config().string() + ".kubelet-certd.orig")), 0600u);
  EXPECT_NE(out.err.find("kubelet-config.yaml patched"), std::string::npos) << out.err;
  // kubeletRestart: never: the operator is told to restart the kubelet.
  EXPECT_NE(out.err.find("kubelet must be restarted"), std::string::npos) << out.err;

  // A second run changes nothing (same bytes, same inode).
  const auto inode_before = fs::status(kubelet_config()).type();
  struct stat st1 {
  }, st2{};
  ::stat(kubelet_config().c_str(), &st1);
  auto again = run("run", {"--once"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  ::stat(kubelet_config().c_str(), &st2);
  EXPECT_EQ(read_text(kubelet_config()), patched);
  EXPECT_EQ(st1.st_ino, st2.st_ino);
  EXPECT_EQ(inode_before, fs::file_type::regular);
  EXPECT_EQ(again.err.find("kubelet-config.yaml patched"), std::string::npos) << again.err;
}

TEST_F(KubeletConfig, MissingConfigIsCreatedAndMalformedOneIsLeftUntouched) {
  ASSERT_EQ(run("run", {"--once", "--serving=false"}).exit_code, 0);
  const std::string created = read_text(kubelet_config());
  EXPECT_NE(created.find("kind: KubeletConfiguration"), std::string::npos);
  EXPECT_EQ(created.find("tlsCertFile"), std::string::npos) << "no serving certificate, no tlsCertFile";

  const std::string bad =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: [10255\n";
  write(kubelet_config(), bad, 0600);
  auto out = run("run", {"--once"});
  EXPECT_EQ(out.exit_code, 0) << "certificates still get issued: " << out.err;
  EXPECT_EQ(read_text(kubelet_config()), bad);
  EXPECT_NE(out.err.find("kubelet-config.yaml not patched"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find(kubelet_config().string() + ":4:"), std::string::npos) << out.err;
}

// A valid kubelet config at the size limit, of the shape that costs yaml-cpp the most per byte
// (short flow sequences): the longest patch the daemon can be asked to do.
std::string largest_kubelet_config() {
  std::string text =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 10255\n";
  const std::string seq = ": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]\n";
  for (int i = 0; text.size() + seq.size() + 16 < kubelet::kMaxKubeletConfigBytes; ++i)
    text += "k" + std::to_string(i) + seq;
  return text;
}

TEST_F(KubeletConfig, SigtermDuringTheLargestPatchStopsWithinTwoSeconds) {
  // Issue 10, class 3: the patch runs after the signal handlers and the timeout are armed, and
  // its work is bounded, so a stop never waits long for it.
  const std::string original = largest_kubelet_config();
  write(kubelet_config(), original, 0600);
  auto d = daemon();
  ASSERT_TRUE(eventually([&] { return d->err().find("starting") != std::string::npos; }, 10s));
  const auto t0 = std::chrono::steady_clock::now();
  d->signal(SIGTERM);
  const auto code = d->wait_for(2s);
  collect(*d);
  ASSERT_TRUE(code.has_value()) << "still running 2 s after SIGTERM";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  // Whatever the stop interrupted, the file is the old one or the whole new one.
  const std::string now = read_text(kubelet_config());
  if (now != original) {
    EXPECT_NE(now.find("readOnlyPort: 0\n"), std::string::npos);
  }
}

TEST_F(KubeletConfig, OnceTimeoutHoldsDuringTheLargestPatch) {
  devapi::Options opts;
  opts.auto_approve_client = false;  // nothing gets issued: only --timeout ends the run
  start_devapi(opts);
  write_config();
  write(kubelet_config(), largest_kubelet_config(), 0600);
  const auto t0 = std::chrono::steady_clock::now();
  auto out = run("run", {"--once", "--timeout", "1s"});
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(out.exit_code, 0);
  EXPECT_LT(took, 1s + 2s) << out.err;
}

TEST_F(KubeletConfig, AConfigOverTheSizeLimitIsLeftUntouchedWithAClearError) {
  std::string big = largest_kubelet_config();
  while (big.size() <= kubelet::kMaxKubeletConfigBytes) big += "# padding\n";
  write(kubelet_config(), big, 0600);
  auto out = run("run", {"--once", "--serving=false"});
  EXPECT_EQ(out.exit_code, 0) << "certificates still get issued: " << out.err;
  EXPECT_EQ(read_text(kubelet_config()), big);
  EXPECT_NE(out.err.find("kubelet-config.yaml not patched"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("larger than 262144 bytes"), std::string::npos) << out.err;
}

TEST_F(KubeletConfig, PatchingCanBeTurnedOff) {
  write(kubelet_config(), fixture("kubeadm.in.yaml"), 0644);
  ASSERT_EQ(run("run", {"--once", "--patch-kubelet-config=false"}).exit_code, 0);
  EXPECT_EQ(read_text(kubelet_config()), fixture("kubeadm.in.yaml"));
  EXPECT_EQ(mode_of(kubelet_config()), 0644u);
}

TEST_F(KubeletConfig, CheckReportsJsonAndFixMakesEveryCheckPass) {
  ASSERT_EQ(run("run", {"--once", "--patch-kubelet-config=false"}).exit_code, 0);
  write(kubelet_config(), fixture("kubeadm.in.yaml"), 0644);
  fs::permissions(kubeconfig(), static_cast<fs::perms>(0640));

  auto before = check({"-o", "json"});
  EXPECT_EQ(before.exit_code, 1) << before.out << before.err;
  const auto j = json::parse(before.out);
  ASSERT_EQ(j["checks"].size(), 20u);
  for (const auto& c : j["checks"]) {
    for (const char* field : {"id", "title", "status", "evidence", "remediation"})
      EXPECT_TRUE(c.contains(field)) << field;
  }
  auto s = statuses(j);
  EXPECT_EQ(s["4.1.5"], "FAIL");
  EXPECT_EQ(s["4.1.9"], "FAIL");
  EXPECT_EQ(s["4.2.9"], "WARN");
  EXPECT_EQ(s["4.2.12"], "WARN");
  EXPECT_EQ(j["commandLineFrom"], "service files");

  auto fixed = check({"--fix", "-o", "json"});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
  const auto f = json::parse(fixed.out);
  for (const auto& c : f["checks"]) EXPECT_EQ(c["status"], "PASS") << c.dump();
  EXPECT_FALSE(f["fixed"].empty());
  EXPECT_EQ(mode_of(kubeconfig()), 0600u);
  EXPECT_EQ(mode_of(kubelet_config()), 0600u);
  EXPECT_EQ(read_text(fs::path(kubelet_config().string() + ".kubelet-certd.orig")),
            fixture("kubeadm.in.yaml"));

  // The table: kube-bench's look, and a summary.
  auto table = check();
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(
      table.out.find("[PASS] 4.2.10 Ensure that the --rotate-certificates argument is not set to false"),
      std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("== Summary ==\n20 checks PASS\n0 checks FAIL\n0 checks WARN\n"),
            std::string::npos)
      << table.out;
}

TEST_F(KubeletConfig, FlagsThatOverrideThePatchAreNamedWithTheirFile) {
  ASSERT_EQ(run("run", {"--once"}).exit_code, 0);
  write(root_ / "etc/default/kubelet",
        "# extra flags\nKUBELET_EXTRA_ARGS=--read-only-port=10255 --rotate-certificates=false\n", 0644);
  auto out = check();
  EXPECT_EQ(out.exit_code, 1) << out.out;  // 4.2.10 is scored
  EXPECT_NE(out.out.find("[FAIL] 4.2.10"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("[WARN] 4.2.4"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("--read-only-port=10255 (/etc/default/kubelet:2) overrides readOnlyPort: 0"),
            std::string::npos)
      << out.out;
  EXPECT_NE(out.out.find("--rotate-certificates=false (/etc/default/kubelet:2)"), std::string::npos)
      << out.out;
  EXPECT_NE(out.out.find("kubelet-certd rotates"), std::string::npos);
  // --fix cannot change a flag: still failing, and the file it was asked to patch is already right.
  EXPECT_EQ(check({"--fix"}).exit_code, 1);
}

TEST_F(KubeletConfig, FixRefusesAMalformedConfigAndChangesNothing) {
  ASSERT_EQ(run("run", {"--once", "--patch-kubelet-config=false"}).exit_code, 0);
  const std::string bad =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: [10255\n";
  write(kubelet_config(), bad, 0644);
  auto out = check({"--fix"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.err.find(kubelet_config().string() + ":4:"), std::string::npos) << out.err;
  EXPECT_EQ(read_text(kubelet_config()), bad);
  EXPECT_EQ(mode_of(kubelet_config()), 0644u) << "nothing is changed when the patch cannot be applied";
  EXPECT_FALSE(fs::exists(kubelet_config().string() + ".kubelet-certd.bak"));
}

TEST_F(KubeletConfig, OnKubelet124SeccompDefaultIsHeldBackAndCheckSaysWhy) {
  fake_kubelet_version = "1.24.17";
  write_config();
  write(kubelet_config(), fixture("kubeadm.in.yaml"), 0600);
  auto out = run("run", {"--once"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const std::string patched = read_text(kubelet_config());
  EXPECT_EQ(patched.find("seccompDefault"), std::string::npos) << patched;
  EXPECT_NE(patched.find("podPidsLimit: 4096"), std::string::npos) << patched;
  EXPECT_NE(out.err.find("seccompDefault needs the SeccompDefault feature gate on kubelet 1.24"),
            std::string::npos)
      << out.err;

  auto c = check({"-o", "json"});
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
  const auto j = json::parse(c.out);
  EXPECT_EQ(statuses(j)["4.2.14"], "WARN");
  for (const auto& r : j["checks"]) {
    if (r["id"] == "4.2.14") {
      EXPECT_NE(
          r["evidence"].get<std::string>().find("needs the SeccompDefault feature gate on kubelet 1.24"),
          std::string::npos)
          << r.dump();
    }
  }
  ASSERT_EQ(j["heldBack"].size(), 1u);
  EXPECT_EQ(j["heldBack"][0]["key"], "seccompDefault");
  EXPECT_NE(j["kubelet"].get<std::string>().find("v1.24.17 (kubeletPath"), std::string::npos) << j["kubelet"];
}

TEST_F(KubeletConfig, NoKubeletFoundWritesOnlyWhatEveryVersionAcceptsAndSaysSo) {
  write_config("kubeletPath: \"\"\nkubeletUnit: no-such-kubelet.service\n");
  write(kubelet_config(), fixture("kubeadm.in.yaml"), 0600);
  auto out = run("run", {"--once"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(read_text(kubelet_config()).find("seccompDefault"), std::string::npos);
  EXPECT_NE(out.err.find("no kubelet found"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("writing only keys every kubelet from 1.24 accepts"), std::string::npos) << out.err;
}

TEST_F(KubeletConfig, DryRunPrintsTheDiffAndTheHeldBackKeysAndChangesNothing) {
  fake_kubelet_version = "1.24.17";
  write_config();
  write(kubelet_config(), fixture("kubeadm.in.yaml"), 0644);
  auto out = check({"--fix", "--dry-run"});
  EXPECT_NE(out.out.find("--- a/" + kubelet_config().relative_path().string()), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("\n-rotateCertificates: true\n"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("\n+readOnlyPort: 0\n"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("\n+podPidsLimit: 4096\n"), std::string::npos) << out.out;
  EXPECT_EQ(out.out.find("+seccompDefault"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("seccompDefault (CIS 4.2.14): seccompDefault needs the SeccompDefault feature gate "
                         "on kubelet 1.24"),
            std::string::npos)
      << out.out;
  EXPECT_EQ(read_text(kubelet_config()), fixture("kubeadm.in.yaml"));
  EXPECT_EQ(mode_of(kubelet_config()), 0644u);
  EXPECT_FALSE(fs::exists(kubelet_config().string() + ".kubelet-certd.bak"));
  EXPECT_FALSE(fs::exists(client_ca())) << "--dry-run writes nothing at all";
  EXPECT_NE(check({"--dry-run"}).exit_code, 0) << "--dry-run needs --fix";
}

TEST_F(KubeletConfig, CheckWithABadSettingsFileExitsTwo) {
  std::ofstream(config_file())
      << "apiVersion: kubelet-certd.io/v1alpha1\nkind: KubeletCertdConfiguration\nhardening: strict\n";
  auto out = check();
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("hardening"), std::string::npos) << out.err;
}

}  // namespace
}  // namespace kcd::testing

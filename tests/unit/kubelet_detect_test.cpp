// Finding the kubelet that will really run: process identity (root, root-owned executable that
// nobody else can write, the unit's MainPID), the unit's effective ExecStart= with drop-ins,
// kubeletPath, and `--version` run safely. On a fake /proc and unit tree.
#include "kubelet/detect.hpp"
#include "kubelet/kubelet_flags.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace kcd::kubelet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class Detect : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "identity checks need files owned by root";
    char tmpl[] = "/tmp/kcd-detect-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  void write(const fs::path& p, const std::string& text, fs::perms mode = fs::perms(0644)) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    fs::permissions(p, mode);
  }
  // An executable that answers --version like a kubelet and leaves a mark when run.
  fs::path fake_kubelet(const std::string& name, const std::string& version,
                        fs::perms mode = fs::perms(0755)) {
    const fs::path p = root_ / "bin" / name;
    write(p,
          "#!/bin/sh\ntouch " + (root_ / (name + ".ran")).string() + "\necho 'Kubernetes v" + version + "'\n",
          mode);
    return p;
  }
  bool ran(const std::string& name) const { return fs::exists(root_ / (name + ".ran")); }
  // A process under root_/proc: its command line, its uid, its executable.
  void process(int pid, const std::vector<std::string>& argv, int uid, const fs::path& exe) {
    const fs::path dir = root_ / "proc" / std::to_string(pid);
    std::string cmdline;
    for (const auto& a : argv) cmdline += a + '\0';
    write(dir / "cmdline", cmdline);
    const std::string u = std::to_string(uid);
    write(dir / "status", "Name:\tkubelet\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t" + u + "\t" + u + "\t" +
                              u + "\t" + u + "\n");
    fs::create_symlink(exe, dir / "exe");
  }

  fs::path root_;
};

TEST_F(Detect, TheRunningKubeletIsARootProcessWithARootOwnedExecutable) {
  const fs::path exe = fake_kubelet("kubelet", "1.24.17");
  process(812, {"/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml"}, 0, exe);
  auto k = find_running_kubelet(root_, 0);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->pid, 812);
  EXPECT_EQ(k->exe, exe);
  const KubeletBinary b = detect_kubelet(DetectOptions{root_, std::nullopt, "kubelet.service", 0});
  ASSERT_TRUE(b.version) << b.problem;
  EXPECT_EQ(*b.version, (Version{1, 24, 17}));
  EXPECT_THAT(b.source, HasSubstr("running kubelet (pid 812"));
  EXPECT_THAT(b.describe(), HasSubstr("v1.24.17"));
}

TEST_F(Detect, ANonRootProcessNamedKubeletIsIgnored) {
  const fs::path evil = fake_kubelet("evil", "1.35.0");
  process(100, {"kubelet", "--config=/tmp/attacker.yaml", "--kubeconfig=/tmp/steal.conf"}, 1000, evil);
  std::vector<std::string> ignored;
  EXPECT_FALSE(find_running_kubelet(root_, 0, &ignored));
  ASSERT_EQ(ignored.size(), 1u);
  EXPECT_THAT(ignored[0], HasSubstr("does not run as root"));
  // Its flags are not believed either: `check --fix` must not follow --config=/tmp/attacker.yaml.
  const KubeletCommandLine cl = read_kubelet_command_line(root_);
  EXPECT_EQ(cl.find("--config"), nullptr);
  EXPECT_EQ(cl.origin, "");
  ASSERT_EQ(cl.ignored.size(), 1u);
  EXPECT_FALSE(detect_kubelet(DetectOptions{root_, std::nullopt, "kubelet.service", 0}).version);
  EXPECT_FALSE(ran("evil")) << "an untrusted process's binary is never run";
}

TEST_F(Detect, ARootProcessRunningAWritableOrForeignExecutableIsIgnored) {
  process(200, {"/opt/x/kubelet"}, 0, fake_kubelet("writable", "1.30.0", fs::perms(0777)));
  const fs::path foreign = fake_kubelet("foreign", "1.30.0");
  ASSERT_EQ(::chown(foreign.c_str(), 1000, 1000), 0);
  process(201, {"/opt/y/kubelet"}, 0, foreign);
  std::vector<std::string> ignored;
  EXPECT_FALSE(find_running_kubelet(root_, 0, &ignored));
  ASSERT_EQ(ignored.size(), 2u);
  EXPECT_THAT(ignored[0], HasSubstr("writable by group or others"));
  EXPECT_THAT(ignored[1], HasSubstr("not owned by root"));
}

TEST_F(Detect, OnlyTheUnitsMainPidCountsWhenSystemdSaysWhichItIs) {
  const fs::path exe = fake_kubelet("kubelet", "1.29.1");
  process(300, {"/usr/bin/kubelet", "--read-only-port=10255"}, 0, exe);
  process(301, {"/usr/bin/kubelet"}, 0, exe);
  auto k = find_running_kubelet(root_, 301);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->pid, 301);
  EXPECT_EQ(read_kubelet_command_line(root_, 301).find("--read-only-port"), nullptr);
}

TEST_F(Detect, WithoutARunningKubeletTheUnitsEffectiveExecStartIsUsed) {
  const fs::path exe = fake_kubelet("kubelet", "1.27.3");
  write(root_ / "lib/systemd/system/kubelet.service",
        "[Service]\nExecStart=/usr/bin/kubelet\nRestart=always\n");
  // kubeadm's drop-in resets ExecStart= and names the binary again; a later drop-in wins.
  write(root_ / "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS\n");
  write(root_ / "etc/systemd/system/kubelet.service.d/20-custom.conf",
        "[Service]\nExecStart=\nExecStart=-" + exe.string() + " $KUBELET_ARGS\n");
  auto e = unit_exec_start(root_, "kubelet.service");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->binary, exe);
  EXPECT_EQ(e->where, "/etc/systemd/system/kubelet.service.d/20-custom.conf:3");
  // With the unit's program under the system root, its version is asked of it.
  write(root_ / "usr/local/k8s/kubelet", "#!/bin/sh\necho 'Kubernetes v1.27.3'\n", fs::perms(0755));
  write(root_ / "etc/systemd/system/kubelet.service.d/30-local.conf",
        "[Service]\nExecStart=\nExecStart=/usr/local/k8s/kubelet\n");
  const KubeletBinary b = detect_kubelet(DetectOptions{root_, std::nullopt, "kubelet.service", 0});
  ASSERT_TRUE(b.version) << b.problem;
  EXPECT_EQ(*b.version, (Version{1, 27, 3}));
  EXPECT_THAT(
      b.source,
      HasSubstr("ExecStart= of kubelet.service (/etc/systemd/system/kubelet.service.d/30-local.conf:3)"));
  const KubeletBinary none = detect_kubelet(DetectOptions{root_, std::nullopt, "no-such.service", 0});
  EXPECT_FALSE(none.version);
  EXPECT_THAT(none.problem, HasSubstr("no kubelet found"));
}

TEST_F(Detect, KubeletPathOverridesDetectionButMustBeTrustworthy) {
  const fs::path exe = fake_kubelet("pinned", "1.31.0");
  process(400, {"/usr/bin/kubelet"}, 0, fake_kubelet("running", "1.24.0"));
  KubeletBinary b = detect_kubelet(DetectOptions{root_, exe, "kubelet.service", 0});
  ASSERT_TRUE(b.version) << b.problem;
  EXPECT_EQ(*b.version, (Version{1, 31, 0}));
  EXPECT_EQ(b.source, "kubeletPath");
  EXPECT_FALSE(ran("running"));

  const fs::path loose = fake_kubelet("loose", "1.31.0", fs::perms(0775));
  b = detect_kubelet(DetectOptions{root_, loose, "kubelet.service", 0});
  EXPECT_FALSE(b.version);
  EXPECT_THAT(b.problem, HasSubstr("writable by group or others"));
  EXPECT_FALSE(ran("loose"));
}

TEST_F(Detect, AKubeletThatDoesNotAnswerLikeAKubeletHasNoVersion) {
  const fs::path p = root_ / "bin" / "odd";
  write(p, "#!/bin/sh\necho 'hello'\n", fs::perms(0755));
  KubeletBinary b = detect_kubelet(DetectOptions{root_, p, "kubelet.service", 0});
  EXPECT_FALSE(b.version);
  EXPECT_THAT(b.problem, HasSubstr("not a kubelet version"));
  // One that hangs is killed after 5 s.
  const fs::path hang = root_ / "bin" / "hang";
  write(hang, "#!/bin/sh\nexec sleep 60\n", fs::perms(0755));
  const auto start = std::chrono::steady_clock::now();
  b = detect_kubelet(DetectOptions{root_, hang, "kubelet.service", 0});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  EXPECT_THAT(b.problem, HasSubstr("did not answer within 5 s"));
}

}  // namespace
}  // namespace kcd::kubelet

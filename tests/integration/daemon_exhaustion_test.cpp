// The daemon against a local user who exhausts it (issue 10, class 8) and against blocking calls
// that hang (class 12): thousands of idle connections to the metrics port and the control socket
// while it rotates, a low RLIMIT_NOFILE, a `kubelet --version` and a D-Bus system bus that never
// answer. The loop keeps serving, key and state writes never fail, and SIGTERM holds within 2 s.
#include "tests/integration/harness.hpp"
#include "tests/support/sanitizers.hpp"
#include "tests/support/local_clients.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <fstream>
#include <sstream>

namespace kcd::testing {
namespace {

// User plus system CPU time of a process (all its threads), from /proc/<pid>/stat.
std::chrono::milliseconds cpu_time(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  long long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14) utime = std::stoll(f);
    if (i == 15) {
      stime = std::stoll(f);
      break;
    }
  }
  return std::chrono::milliseconds((utime + stime) * 1000 / ::sysconf(_SC_CLK_TCK));
}

// A Unix socket that accepts connections and never says anything: a D-Bus system bus that hangs.
class SilentBus {
 public:
  explicit SilentBus(const fs::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.string().copy(addr.sun_path, sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);  // the kernel completes connections; nobody ever reads them
  }
  ~SilentBus() { ::close(fd_); }
  std::string address() const { return "unix:path=" + path_.string(); }

 private:
  fs::path path_;
  int fd_ = -1;
};

class Exhaustion : public AgentHarness {
 protected:
  fs::path control_socket() const { return cert_dir() / "kubelet-certd.sock"; }

  // SIGTERM, then the exit within 2 s.
  void stops_within_2s(Subprocess& d) {
    const auto sent = std::chrono::steady_clock::now();
    d.signal(SIGTERM);
    const auto code = d.wait_for(5s);
    const auto took = std::chrono::steady_clock::now() - sent;
    collect(d);
    EXPECT_EQ(code, std::optional<int>(0)) << logs_;
    EXPECT_LT(took, 2s) << "SIGTERM must stop the daemon within 2 s\n" << logs_;
  }

  // The control socket answers (the loop is serving).
  void answers_status() {
    auto st = run("status", {"-o", "json"});
    const auto j = nlohmann::json::parse(st.out, nullptr, false);
    EXPECT_TRUE(!j.is_discarded() && j["daemon"]["running"] == true) << st.out << st.err;
  }

  void no_write_failed() const {
    for (const char* failure : {"pending key not written", "state file not written",
                                "metrics textfile not written", "cannot accept connections"}) {
      EXPECT_EQ(logs_.find(failure), std::string::npos) << failure << "\n" << logs_;
    }
  }
};

TEST_F(Exhaustion, RotationKeepsWorkingThroughThousandsOfIdleConnectionsToEveryListener) {
  write_config("serving: false\n");
  const int port = free_port();
  auto d = daemon({"--metrics-address", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(eventually([&] { return current().has_value() && fs::exists(control_socket()); }));
  const auto first = current();
  {
    IdleClients flood;
    ASSERT_TRUE(flood.tcp(port, 3000)) << flood.error();
    ASSERT_TRUE(flood.unix_socket(control_socket(), 3000)) << flood.error();
    // During the flood: renew through the socket, and the rotation completes.
    auto renewed = run("renew", {"client", "--once", "--timeout", "30s"});
    EXPECT_EQ(renewed.exit_code, 0) << renewed.out << renewed.err;
    ASSERT_TRUE(current());
    EXPECT_NE(current()->sha256_fingerprint, first->sha256_fingerprint);
    EXPECT_EQ(http_get(port, "/metrics").rfind("HTTP/1.1 200 OK", 0), 0u)
        << "metrics answer through the flood";
    // The daemon holds at most its caps: all but a few dozen of the flood were closed.
    EXPECT_GE(flood.closed_by_peer(), flood.size() - 64 - 16);
  }
  // Afterwards: metrics and renew answer again.
  const auto second = current();
  EXPECT_EQ(http_get(port, "/metrics").rfind("HTTP/1.1 200 OK", 0), 0u);
  auto again = run("renew", {"client", "--once", "--timeout", "30s"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(current()->sha256_fingerprint, second->sha256_fingerprint);
  EXPECT_EQ(server_->csrs_created(), 3);
  stops_within_2s(*d);
  no_write_failed();
}

// With 64 descriptors the daemon runs out while accepting: it backs off (no busy loop), and once
// the flood is gone it answers again and rotates.
TEST_F(Exhaustion, OutOfDescriptorsTheAcceptLoopBacksOffAndRecovers) {
  if (kSanitizedBuild) {
    // UBSan's checks open /proc/self/maps; with every descriptor taken they fail and end the
    // daemon. The release build runs this test.
    GTEST_SKIP() << "the sanitizer runtimes need descriptors of their own";
  }
  write_config("serving: false\n");
  const int port = free_port();
  std::vector<std::string> argv = {"/bin/sh", "-c", "ulimit -n 64 && exec \"$0\" \"$@\""};
  for (const auto& a : args("run", {"--metrics-address", "127.0.0.1:" + std::to_string(port)}))
    argv.push_back(a);
  Subprocess d(argv, tmp_ / "logs");
  ASSERT_TRUE(eventually([&] { return current().has_value() && fs::exists(control_socket()); }));
  const auto first = current();
  {
    IdleClients flood;
    ASSERT_TRUE(flood.tcp(port, 500)) << flood.error();
    ASSERT_TRUE(flood.unix_socket(control_socket(), 200)) << flood.error();
    std::this_thread::sleep_for(500ms);  // the accept loops meet EMFILE
    const auto cpu_before = cpu_time(d.pid());
    const auto wall_before = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(2s);
    const auto cpu = cpu_time(d.pid()) - cpu_before;
    const auto wall =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - wall_before);
    EXPECT_LT(cpu.count() * 4, wall.count())
        << "the loop spins: " << cpu.count() << " ms CPU in " << wall.count() << " ms";
  }
  // The flood is gone: metrics and renew answer, and the rotation writes its key and state.
  std::string res;
  EXPECT_TRUE(eventually([&] {
    res = http_get(port, "/metrics");
    return res.rfind("HTTP/1.1 200 OK", 0) == 0;
  })) << res;
  auto renewed = run("renew", {"client", "--once", "--timeout", "30s"});
  EXPECT_EQ(renewed.exit_code, 0) << renewed.out << renewed.err;
  EXPECT_NE(current()->sha256_fingerprint, first->sha256_fingerprint);
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_for(5s), std::optional<int>(0));
  collect(d);
  EXPECT_NE(logs_.find("cannot accept connections, backing off"), std::string::npos) << logs_;
}

// `kubelet --version` that never answers runs on the kubelet worker: the control socket answers
// meanwhile, and SIGTERM kills it rather than waiting out its 5 s.
TEST_F(Exhaustion, AHungKubeletVersionNeitherBlocksTheLoopNorAStop) {
  write_config("serving: false\n");
  fs::create_directories(fake_kubelet().parent_path());
  std::ofstream(fake_kubelet()) << "#!/bin/sh\nexec sleep 60\n";
  fs::permissions(fake_kubelet(), static_cast<fs::perms>(0755));
  auto d = daemon();
  ASSERT_TRUE(eventually([&] { return current().has_value() && fs::exists(control_socket()); }));
  answers_status();
  stops_within_2s(*d);
  EXPECT_EQ(logs_.find("kubelet-config.yaml patched"), std::string::npos)
      << "the stop came while --version hung, and a plan without the version is not written";
}

// A system bus that accepts and never answers: the D-Bus calls run on the kubelet worker, and
// SIGTERM ends their wait.
TEST_F(Exhaustion, AHungSystemBusNeitherBlocksTheLoopNorAStop) {
  write_config("serving: false\n");
  SilentBus bus(tmp_ / "system_bus");
  auto d = daemon({}, {{"DBUS_SYSTEM_BUS_ADDRESS", bus.address()}});
  ASSERT_TRUE(eventually([&] { return current().has_value() && fs::exists(control_socket()); }));
  answers_status();
  stops_within_2s(*d);
  EXPECT_EQ(logs_.find("kubelet-config.yaml patch"), std::string::npos)
      << "the kubelet worker was still waiting for the bus when SIGTERM came";
}

// RSA-4096 keys are generated off the loop, and a stop abandons the generation.
TEST_F(Exhaustion, SigtermDuringRsa4096KeyGenerationStopsWithin2s) {
  write_config("serving: false\nkeyAlgorithm: RSA-4096\n");
  auto d = daemon();
  ASSERT_TRUE(eventually([&] { return fs::exists(control_socket()); }));
  stops_within_2s(*d);
}

}  // namespace
}  // namespace kcd::testing

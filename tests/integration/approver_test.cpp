// Issue 11: `kubelet-certd approve`, the real binary, against devapi over TLS as its own
// identity (approver-rbac.yaml's permissions): three replicas elect one leader on the Lease,
// a killed leader is replaced within lease duration + renew deadline, every CSR gets exactly
// one decision, node A asking for node B's IP is denied, and a CSR filed before its Node exists
// is approved once the Node appears. Each decision leaves Events on the CSR and the Node.
#include "daemon/api/client.hpp"
#include "rotation/csr.hpp"
#include "rotation/key.hpp"
#include "tests/devapi/server.hpp"
#include "tests/support/local_clients.hpp"
#include "tests/support/run_awaitable.hpp"
#include "tests/support/subprocess.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <thread>

namespace kcd {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// Shortened from client-go's 15/10/2 s so that the suite stays fast; the rules are the same.
constexpr auto kLease = 4s;
constexpr auto kRenewDeadline = 3s;

class Approver : public ::testing::Test {
 protected:
  void SetUp() override {
    devapi::Options opts;
    opts.state_dir = tmp_ / "devapi";
    server_ = std::make_unique<devapi::Server>(opts);
    server_->start();
    std::ofstream(tmp_ / "config.yaml") << "# kubelet-certd settings: defaults\n";
  }

  std::unique_ptr<testing::Subprocess> approver(const std::string& name,
                                                std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {KCD_BINARY,         "approve",
                                     "--config",         (tmp_ / "config.yaml").string(),
                                     "--kubeconfig",     server_->approver_kubeconfig_path().string(),
                                     "--identity",       name,
                                     "--lease-duration", "4s",
                                     "--renew-deadline", "3s",
                                     "--retry-period",   "1s",
                                     "--log-level",      "debug"};
    if (std::find(extra.begin(), extra.end(), "--metrics-address") == extra.end()) {
      argv.push_back("--metrics-address");
      argv.push_back("");
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<testing::Subprocess>(argv, tmp_ / ("logs-" + name));
  }

  api::Endpoint endpoint() const {
    return api::Endpoint{config::parse_server_url(server_->url()).value(), server_->ca_pem(), {}};
  }

  // Files a kubelet-serving CSR as node `node` (its own client certificate) for `ips`.
  void file_csr(const std::string& node, const std::string& name, const std::vector<std::string>& ips,
                const std::vector<std::string>& dns = {}) {
    auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
    auto pem = rotation::build_csr_pem(
        key.get(),
        rotation::CsrRequest{rotation::Subject{"system:node:" + node, {"system:nodes"}}, dns, ips});
    ASSERT_TRUE(pem);
    const auto cred = server_->issue_client_credential("system:node:" + node, {"system:nodes"});
    api::Credentials creds;
    creds.client_cert_pem = cred.cert_pem;
    creds.client_key_pem = cred.key_pem;
    api::CsrCreate req{
        name, *pem, "kubernetes.io/kubelet-serving", {"digital signature", "server auth"}, std::nullopt};
    asio::io_context io;
    api::Client client(io, endpoint(), creds);
    auto created = testing::run(io, client.create_csr(req));
    ASSERT_TRUE(created) << created.error().format();
  }

  void node(const std::string& name, const std::string& ip) {
    ASSERT_TRUE(server_->create_node(name));
    ASSERT_EQ(server_->set_node_addresses(name, {{"InternalIP", ip}, {"Hostname", name}}), 200);
  }

  std::optional<json> csr(const std::string& name) const {
    for (auto& c : server_->list_csrs())
      if (c["metadata"]["name"] == name) return c;
    return std::nullopt;
  }
  // The Approved/Denied conditions of `name`.
  std::vector<json> decisions(const std::string& name) const {
    std::vector<json> out;
    auto c = csr(name);
    if (!c) return out;
    for (const auto& cond : c->value("status", json::object()).value("conditions", json::array()))
      if (cond["type"] == "Approved" || cond["type"] == "Denied") out.push_back(cond);
    return out;
  }
  // Waits until `name` has a decision; the first one.
  std::optional<json> decided(const std::string& name, std::chrono::milliseconds within) const {
    const auto until = Clock::now() + within;
    while (Clock::now() < until) {
      auto d = decisions(name);
      if (!d.empty()) return d.front();
      std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
  }
  // The approver's /metrics once it shows every one of `needles` (it counts a decision after
  // the API call that records it returns), or as it was at the deadline.
  static std::string metrics_showing(int port, const std::vector<std::string>& needles,
                                     std::chrono::milliseconds within) {
    const auto until = Clock::now() + within;
    std::string text = testing::http_get(port, "/metrics");
    auto shows_all = [&] {
      return std::all_of(needles.begin(), needles.end(),
                         [&](const std::string& n) { return text.find(n) != std::string::npos; });
    };
    while (!shows_all() && Clock::now() < until) {
      std::this_thread::sleep_for(50ms);
      text = testing::http_get(port, "/metrics");
    }
    return text;
  }
  std::string holder() const {
    for (auto& l : server_->list_objects("leases"))
      if (l["metadata"]["name"] == "kubelet-certd-approver") return l["spec"].value("holderIdentity", "");
    return "";
  }
  std::string leader_after(std::chrono::milliseconds within) const {
    const auto until = Clock::now() + within;
    while (Clock::now() < until) {
      if (auto h = holder(); !h.empty()) return h;
      std::this_thread::sleep_for(50ms);
    }
    return "";
  }
  // The Events about an object, once there are at least `least` (they are posted after the
  // decision, on their own), or what there is after 5 s.
  std::vector<json> events_about(const std::string& kind, const std::string& name,
                                 std::size_t least = 1) const {
    const auto until = Clock::now() + 5s;
    for (;;) {
      std::vector<json> out;
      for (auto& e : server_->list_objects("events"))
        if (e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == name) out.push_back(e);
      if (out.size() >= least || Clock::now() >= until) return out;
      std::this_thread::sleep_for(50ms);
    }
  }

  testing::TempDir tmp_;
  std::unique_ptr<devapi::Server> server_;
};

TEST_F(Approver, ThreeReplicasOneLeaderAndAKilledLeaderIsReplacedWithoutDoubleDecisions) {
  for (int i = 1; i <= 3; ++i) node("n" + std::to_string(i), "10.0.0." + std::to_string(i));
  std::map<std::string, std::unique_ptr<testing::Subprocess>> replicas;
  for (const char* name : {"cp1", "cp2", "cp3"}) replicas[name] = approver(name);

  const std::string first = leader_after(10s);
  ASSERT_FALSE(first.empty()) << "no replica took the Lease: " << replicas["cp1"]->err();
  const std::string first_name = first.substr(0, first.find('_'));
  ASSERT_TRUE(replicas.count(first_name)) << first;

  file_csr("n1", "before-kill", {"10.0.0.1"});
  auto d = decided("before-kill", 10s);
  ASSERT_TRUE(d) << "not decided";
  EXPECT_EQ((*d)["type"], "Approved");
  EXPECT_EQ((*d)["reason"], "KubeletCertdApproved");
  EXPECT_THAT((*d)["message"].get<std::string>(), HasSubstr("10.0.0.1"));

  // Kill the leader (no release: as a crash or a lost node), and file while nobody leads.
  replicas[first_name]->signal(SIGKILL);
  replicas[first_name]->wait_for(5s);
  const auto killed = Clock::now();
  for (int i = 0; i < 4; ++i) file_csr("n2", "after-kill-" + std::to_string(i), {"10.0.0.2"});
  auto next = decided("after-kill-0", kLease + kRenewDeadline + 5s);
  const auto took = Clock::now() - killed;
  ASSERT_TRUE(next) << "no new leader decided";
  EXPECT_LE(took, kLease + kRenewDeadline + 2s) << "a new leader decides within lease + renew deadline";
  std::printf("takeover: the first CSR filed after the kill was decided %lld ms after it\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  const std::string second = holder();
  EXPECT_NE(second, first);
  EXPECT_NE(second.substr(0, second.find('_')), first_name);

  for (int i = 0; i < 4; ++i) ASSERT_TRUE(decided("after-kill-" + std::to_string(i), 10s));
  // Let every replica see everything, then count: exactly one decision per CSR.
  std::this_thread::sleep_for(2s);
  for (const char* name : {"before-kill", "after-kill-0", "after-kill-1", "after-kill-2", "after-kill-3"}) {
    EXPECT_EQ(decisions(name).size(), 1u) << name;
  }
  for (auto& l : server_->list_objects("leases"))
    if (l["metadata"]["name"] == "kubelet-certd-approver") {
      EXPECT_GE(l["spec"]["leaseTransitions"].get<int>(), 1);
    }

  // Each approval is an Event on the CSR and on the Node (those of the surviving leader: the
  // killed one may have died before its Events were posted, which never holds a decision).
  auto on_csr = events_about("CertificateSigningRequest", "after-kill-0");
  ASSERT_EQ(on_csr.size(), 1u);
  EXPECT_EQ(on_csr[0]["reason"], "KubeletCertdApproved");
  EXPECT_EQ(on_csr[0]["type"], "Normal");
  EXPECT_EQ(on_csr[0]["source"]["component"], "kubelet-certd-approver");
  EXPECT_EQ(events_about("Node", "n2", 4).size(), 4u);
}

// A leader that cannot renew (here: paused, as a VM stall or a long GC would) must stop deciding
// before another replica may take over; resumed, it decides nothing on its stale view.
TEST_F(Approver, APausedLeaderThatResumesDecidesNothingOnItsStaleView) {
  node("n1", "10.0.0.1");
  auto cp1 = approver("cp1");
  ASSERT_FALSE(leader_after(10s).empty());
  auto cp2 = approver("cp2");
  std::this_thread::sleep_for(1500ms);  // cp2 has listed the CSRs and sees cp1 renewing
  ASSERT_EQ(holder().substr(0, 4), "cp1_");

  cp1->signal(SIGSTOP);
  const auto paused = Clock::now();
  file_csr("n1", "while-paused", {"10.0.0.1"});
  auto d = decided("while-paused", kLease + kRenewDeadline + 5s);
  ASSERT_TRUE(d) << cp2->err();
  EXPECT_EQ(holder().substr(0, 4), "cp2_");
  EXPECT_GE(Clock::now() - paused, kLease - 1s) << "taken over only after the lease ran out";

  cp1->signal(SIGCONT);
  for (int i = 0; i < 3; ++i) file_csr("n1", "after-resume-" + std::to_string(i), {"10.0.0.1"});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(decided("after-resume-" + std::to_string(i), 10s));
  std::this_thread::sleep_for(2s);
  for (const char* name : {"while-paused", "after-resume-0", "after-resume-1", "after-resume-2"}) {
    EXPECT_EQ(decisions(name).size(), 1u) << name;
  }
  cp1->signal(SIGTERM);
  ASSERT_EQ(cp1->wait_for(10s), 0) << cp1->err();
  // cp1 saw that it no longer led, and approved nothing after the pause.
  EXPECT_THAT(cp1->err(), HasSubstr("not leading any more"));
  EXPECT_EQ(cp1->err().find("csr approved"), std::string::npos) << cp1->err();
  EXPECT_EQ(holder().substr(0, 4), "cp2_") << "a stop of a replica that does not lead releases nothing";
}

TEST_F(Approver, NodeAAskingForNodeBsAddressIsDeniedNamingTheRule) {
  node("n1", "10.0.0.1");
  node("n2", "10.0.0.2");
  auto replica = approver("cp1");
  ASSERT_FALSE(leader_after(10s).empty());
  file_csr("n1", "a-wants-b", {"10.0.0.2"});
  file_csr("n1", "a-wants-b-name", {"10.0.0.1"}, {"n2"});
  for (const char* name : {"a-wants-b", "a-wants-b-name"}) {
    auto d = decided(name, 10s);
    ASSERT_TRUE(d) << name;
    EXPECT_EQ((*d)["type"], "Denied") << name;
    EXPECT_EQ((*d)["reason"], "SanNotOfNode") << name;
    EXPECT_THAT((*d)["message"].get<std::string>(), HasSubstr("not among Node n1's addresses")) << name;
    auto ev = events_about("CertificateSigningRequest", name);
    ASSERT_EQ(ev.size(), 1u) << name;
    EXPECT_EQ(ev[0]["type"], "Warning");
  }
  // Nothing was signed.
  EXPECT_FALSE(csr("a-wants-b")->value("status", json::object()).contains("certificate"));
}

TEST_F(Approver, ACsrFiledBeforeItsNodeExistsWaitsAndIsApprovedOnceTheNodeAppears) {
  const int port = testing::free_port();
  auto replica = approver("cp1", {"--metrics-address", "127.0.0.1:" + std::to_string(port)});
  ASSERT_FALSE(leader_after(10s).empty());
  file_csr("n7", "early", {"10.0.0.7"});
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(decisions("early").empty()) << "a missing Node is a reason to wait, never to deny";
  const std::string waited =
      "kubelet_certd_approver_decisions_total{result=\"wait\",rule=\"NodeNotFound\"} 1";
  const std::string waiting = metrics_showing(
      port, {waited, "kubelet_certd_approver_pending 1", "kubelet_certd_approver_leader 1"}, 5s);
  EXPECT_THAT(waiting, HasSubstr(waited));
  EXPECT_THAT(waiting, HasSubstr("kubelet_certd_approver_pending 1"));
  EXPECT_THAT(waiting, HasSubstr("kubelet_certd_approver_leader 1"));

  ASSERT_TRUE(server_->create_node("n7"));  // registered, no addresses yet
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(decisions("early").empty());
  ASSERT_EQ(server_->set_node_addresses("n7", {{"InternalIP", "10.0.0.7"}, {"Hostname", "n7"}}), 200);
  auto d = decided("early", 40s);
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["type"], "Approved");

  const std::string approved =
      "kubelet_certd_approver_decisions_total{result=\"approve\",rule=\"KubeletCertdApproved\"} 1";
  const std::string after = metrics_showing(port, {approved, "kubelet_certd_approver_pending 0"}, 5s);
  EXPECT_THAT(after, HasSubstr(approved));
  EXPECT_THAT(after, HasSubstr("kubelet_certd_approver_pending 0"));

  // A stop while leading gives the Lease up at once.
  replica->signal(SIGTERM);
  EXPECT_EQ(replica->wait_for(10s), 0) << replica->err();
  EXPECT_EQ(holder(), "");
}

// A server that answers every watch with 410 Gone: the approver lists again each time, through
// the backoff (no hot loop), and still sees and decides a new CSR.
TEST_F(Approver, EveryWatchExpiredMeansRelistsThroughTheBackoff) {
  node("n1", "10.0.0.1");
  auto faults = server_->faults();
  faults.watch_too_old = true;
  server_->set_faults(faults);
  auto replica = approver("cp1");
  ASSERT_FALSE(leader_after(10s).empty());
  const auto before = server_->request_counts();
  file_csr("n1", "seen-by-a-relist", {"10.0.0.1"});
  auto d = decided("seen-by-a-relist", 15s);
  ASSERT_TRUE(d) << replica->err();
  EXPECT_EQ((*d)["type"], "Approved");
  std::this_thread::sleep_for(6s);
  const auto after = server_->request_counts();
  const auto delta = [&](const std::string& k) {
    const auto a = after.count(k) ? after.at(k) : 0;
    const auto b = before.count(k) ? before.at(k) : 0;
    return a - b;
  };
  // Backoff 1 s doubling to 5 min with full jitter: a handful of rounds in these seconds, never
  // hundreds.
  EXPECT_LE(delta("LIST csr"), 12) << "lists: " << delta("LIST csr");
  EXPECT_LE(delta("WATCH csr"), 12) << "watches: " << delta("WATCH csr");
  EXPECT_GE(delta("LIST csr"), 1);
}

TEST_F(Approver, AnUnusableKubeconfigIsAClearErrorAtStart) {
  std::ofstream(tmp_ / "broken.conf") << "apiVersion: v1\nkind: Config\nclusters: []\n";
  testing::Subprocess p({KCD_BINARY, "approve", "--config", (tmp_ / "config.yaml").string(), "--kubeconfig",
                         (tmp_ / "broken.conf").string(), "--metrics-address", ""},
                        tmp_ / "logs-broken");
  EXPECT_EQ(p.wait_for(10s), 1);
  EXPECT_THAT(p.err(), HasSubstr((tmp_ / "broken.conf").string()));
  EXPECT_THAT(p.err(), HasSubstr("Serving certificates on a stock cluster"));
}

}  // namespace
}  // namespace kcd

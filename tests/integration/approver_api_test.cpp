// Issue 11: the API calls of the serving CSR approver against devapi over real TLS, as the
// approver's own identity: list every kubelet-serving CSR, then watch from the list's
// resourceVersion and see a CSR filed afterwards.
#include "daemon/api/client.hpp"
#include "rotation/csr.hpp"
#include "rotation/key.hpp"
#include "tests/devapi/server.hpp"
#include "tests/support/run_awaitable.hpp"
#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace kcd::api {
namespace {

namespace asio = boost::asio;
using kcd::testing::run;
using namespace std::chrono_literals;

class ApproverApi : public ::testing::Test {
 protected:
  void SetUp() override {
    devapi::Options opts;
    opts.state_dir = tmp_ / "devapi";
    server_ = std::make_unique<devapi::Server>(opts);
    server_->start();
  }
  Endpoint endpoint() const {
    return Endpoint{config::parse_server_url(server_->url()).value(), server_->ca_pem(), {}};
  }
  Credentials approver() const {
    const auto c = server_->approver_credential();
    Credentials creds;
    creds.client_cert_pem = c.cert_pem;
    creds.client_key_pem = c.key_pem;
    return creds;
  }
  Credentials bootstrap() const {
    Credentials creds;
    creds.bearer_token = server_->bootstrap_token();
    return creds;
  }
  // Files a kubelet-serving CSR for node `node` with the bootstrap token; returns its name.
  std::string file_serving_csr(const std::string& node, const std::string& name) {
    auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
    auto pem = rotation::build_csr_pem(
        key.get(),
        rotation::CsrRequest{rotation::Subject{"system:node:" + node, {"system:nodes"}}, {}, {"10.0.0.1"}});
    EXPECT_TRUE(pem);
    CsrCreate req{
        name, *pem, "kubernetes.io/kubelet-serving", {"digital signature", "server auth"}, std::nullopt};
    asio::io_context io;
    Client client(io, endpoint(), bootstrap());
    auto created = run(io, client.create_csr(req));
    EXPECT_TRUE(created) << created.error().format();
    return name;
  }

  kcd::testing::TempDir tmp_;
  std::unique_ptr<devapi::Server> server_;
};

TEST_F(ApproverApi, ListsBySignerThenWatchesFromTheListsResourceVersion) {
  file_serving_csr("n1", "serving-before");
  asio::io_context io;
  Client client(io, endpoint(), approver());
  auto list = run(io, client.list_csrs("spec.signerName=kubernetes.io/kubelet-serving"));
  ASSERT_TRUE(list) << list.error().format();
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].name, "serving-before");
  EXPECT_FALSE(list->resource_version.empty());

  std::thread later([this] {
    std::this_thread::sleep_for(300ms);
    file_serving_csr("n2", "serving-after");
  });
  std::vector<std::string> seen;
  auto end = run(io, client.watch_csrs("spec.signerName=kubernetes.io/kubelet-serving",
                                       list->resource_version, 5s, 5s, [&](const WatchEvent& e) {
                                         seen.push_back(e.object.name);
                                         return e.object.name != "serving-after";
                                       }));
  later.join();
  ASSERT_TRUE(end) << end.error().format();
  EXPECT_EQ(*end, WatchEnd::ByHandler);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), "serving-after");
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "serving-before"), 0) << "the list already had it";
}

// The decision is a PUT to .../approval with the condition appended, as recorded; a stale
// resourceVersion is 409 (someone else decided first), and the signer permission is checked.
TEST_F(ApproverApi, ApprovesOnceAndAStaleDecisionIsAConflict) {
  file_serving_csr("n1", "serving-1");
  asio::io_context io;
  Client client(io, endpoint(), approver());
  auto read = run(io, client.get_csr("serving-1"));
  ASSERT_TRUE(read) << read.error().format();
  const CsrCondition approve{"Approved", "True", "KubeletCertdApproved", "kubelet-certd checked: test", ""};
  auto approved = run(io, client.update_approval(*read, approve));
  ASSERT_TRUE(approved) << approved.error().format();
  EXPECT_TRUE(approved->approved());
  auto again = run(io, client.update_approval(*read, approve));  // the old resourceVersion
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::Conflict) << again.error().format();
  auto now = run(io, client.get_csr("serving-1"));
  ASSERT_TRUE(now);
  EXPECT_EQ(std::count_if(now->conditions.begin(), now->conditions.end(),
                          [](const CsrCondition& c) { return c.type == "Approved"; }),
            1)
      << "approved exactly once";
}

// The list comes in pages (limit/continue, as client-go's pager asks): every CSR once, at the
// first page's resourceVersion.
TEST_F(ApproverApi, ListsInPages) {
  for (int i = 0; i < 5; ++i) file_serving_csr("n1", "paged-" + std::to_string(i));
  const auto before = server_->request_counts();
  asio::io_context io;
  Client client(io, endpoint(), approver());
  auto list = run(io, client.list_csrs("spec.signerName=kubernetes.io/kubelet-serving", 2));
  ASSERT_TRUE(list) << list.error().format();
  ASSERT_EQ(list->items.size(), 5u);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(list->items[static_cast<std::size_t>(i)].name, "paged-" + std::to_string(i));
  EXPECT_TRUE(list->continue_token.empty());
  EXPECT_EQ(server_->request_counts()["LIST csr"] - (before.count("LIST csr") ? before.at("LIST csr") : 0),
            3);
}

TEST_F(ApproverApi, AnIdentityWithoutRbacCannotList) {
  const auto c = server_->issue_client_credential("system:kubelet-certd-norbac");
  Credentials creds;
  creds.client_cert_pem = c.cert_pem;
  creds.client_key_pem = c.key_pem;
  asio::io_context io;
  Client client(io, endpoint(), creds);
  auto list = run(io, client.list_csrs(""));
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().kind, ErrorKind::Forbidden) << list.error().format();
}

}  // namespace
}  // namespace kcd::api

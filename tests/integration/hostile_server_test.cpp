// The API client against a hostile HTTPS server (issue 10, Proof): endless bodies, endless
// lines, oversized watch events, huge certificate chains, endless headers and slow drips.
// Each must end in a clear error within its deadline, with this process's memory bounded
// (VmHWM from /proc/self/status before and after, with a generous bound).
#include "base/base64.hpp"
#include "daemon/api/client.hpp"
#include "rotation/certificate.hpp"
#include "rotation/key.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/sanitizers.hpp"
#include "tests/support/run_awaitable.hpp"
#include "tests/support/test_ca.hpp"
#include "tests/support/tls_server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <fstream>
#include <optional>

namespace kcd::api {
namespace {

namespace asio = boost::asio;
using kcd::testing::run;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::TlsPeer;
using testing::TlsServer;
using Steady = std::chrono::steady_clock;

long vm_hwm_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

std::string chunk(const std::string& data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx", data.size());
  return std::string(size) + "\r\n" + data + "\r\n";
}

const std::string kChunkedOk =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

// Writes `piece` as chunks until the client goes away (or the test ends).
void endless(TlsPeer& peer, const std::string& piece) {
  const std::string c = chunk(piece);
  while (peer.write(c)) {}
}

class HostileServer : public ::testing::Test {
 protected:
  void SetUp() override { hwm_before_ = vm_hwm_kib(); }
  void TearDown() override {
    // Every limit is a few MiB at most; 64 MiB of growth would mean one did not hold (ASan's
    // shadow memory and quarantine roughly double what a test touches).
    const long bound_kib = (kcd::testing::kSanitizedBuild ? 192 : 64) * 1024;
    EXPECT_LT(vm_hwm_kib() - hwm_before_, bound_kib)
        << "peak RSS grew by " << (vm_hwm_kib() - hwm_before_) << " KiB";
  }

  Endpoint endpoint(const TlsServer& server) const {
    return Endpoint{config::parse_server_url(server.url()).value(), ca_.cert_pem(), std::nullopt};
  }
  Credentials token() const {
    Credentials c;
    c.bearer_token = "abcdef.0123456789abcdef";
    return c;
  }
  Options options() const {
    Options o;
    o.connect_timeout = 5s;
    o.request_timeout = 3s;
    return o;
  }

  // A GET against `server`; the error it ends with, and how long it took.
  std::pair<Result<Csr>, Steady::duration> get(TlsServer& server) {
    Client client(io_, endpoint(server), token(), options());
    const auto t0 = Steady::now();
    auto r = run(io_, client.get_csr("node-csr-x"));
    return {std::move(r), Steady::now() - t0};
  }

  // A watch against `server` (asked to end after 1 s, silent after 1 s).
  std::pair<Result<WatchEnd>, Steady::duration> watch(TlsServer& server, int* events = nullptr) {
    Client client(io_, endpoint(server), token(), options());
    const auto t0 = Steady::now();
    auto r = run(io_, client.watch_csr("node-csr-x", "1", 1s, 1s, [&](const WatchEvent&) {
      if (events != nullptr) ++*events;
      return true;
    }));
    return {std::move(r), Steady::now() - t0};
  }

  testing::TestCa ca_ = testing::TestCa::create_root("kubernetes");
  asio::io_context io_;
  long hwm_before_ = 0;
};

TEST_F(HostileServer, EndlessBodyEndsAtTheBodyLimit) {
  TlsServer server(ca_, [](TlsPeer& peer) {
    peer.read_head();
    peer.write(kChunkedOk);
    endless(peer, std::string(16384, 'x'));
  });
  auto [r, took] = get(server);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("body limit exceeded"));
  EXPECT_LT(took, 3s + 1s);
}

TEST_F(HostileServer, HugeContentLengthIsRefusedBeforeTheBody) {
  TlsServer server(ca_, [](TlsPeer& peer) {
    peer.read_head();
    peer.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n");
    endless(peer, std::string(16384, 'x'));
  });
  auto [r, took] = get(server);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("body limit exceeded"));
  EXPECT_LT(took, 3s + 1s);
}

TEST_F(HostileServer, EndlessHeadersEndAtTheHeaderLimit) {
  TlsServer server(ca_, [](TlsPeer& peer) {
    peer.read_head();
    peer.write("HTTP/1.1 200 OK\r\n");
    while (peer.write("X-Padding: " + std::string(1000, 'p') + "\r\n")) {}
  });
  auto [r, took] = get(server);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("header limit exceeded"));
  EXPECT_LT(took, 3s + 1s);
}

TEST_F(HostileServer, SlowDripResponseEndsAtTheRequestTimeout) {
  TlsServer server(ca_, [](TlsPeer& peer) {
    peer.read_head();
    peer.write(kChunkedOk);
    while (peer.write(chunk(" "))) std::this_thread::sleep_for(100ms);
  });
  auto [r, took] = get(server);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_THAT(r.error().format(), HasSubstr("timed out"));
  EXPECT_GE(took, 3s - 100ms);
  EXPECT_LT(took, 3s + 1s);
}

TEST_F(HostileServer, EndlessWatchLineEndsAtTheEventLimit) {
  TlsServer server(ca_, [](TlsPeer& peer) {
    peer.read_head();
    peer.write(kChunkedOk);
    endless(peer, std::string(16384, ' '));
  });
  auto [r, took] = watch(server);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("watch event longer than 1048576 bytes"));
  EXPECT_LT(took, 2s);
}

TEST_F(HostileServer, OversizedWatchEventIsRefusedAndNotDelivered) {
  TlsServer server(ca_, [](TlsPeer& peer) {
    peer.read_head();
    peer.write(kChunkedOk);
    const std::string event =
        R"({"type":"ADDED","object":{"metadata":{"name":")" + std::string(2 << 20, 'n') + R"("}}})" + "\n";
    peer.write(chunk(event));
    while (!peer.stopping()) std::this_thread::sleep_for(10ms);
  });
  int events = 0;
  auto [r, took] = watch(server, &events);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("watch event longer than"));
  EXPECT_EQ(events, 0);
  EXPECT_LT(took, 2s);
}

TEST_F(HostileServer, SlowDripWatchEndsWithinItsTimeoutPlusTheReadDeadline) {
  // A byte every 100 ms never trips the read deadline; the watch still ends by 1 s + 1 s.
  TlsServer server(ca_, [](TlsPeer& peer) {
    peer.read_head();
    peer.write(kChunkedOk);
    while (peer.write(chunk(" "))) std::this_thread::sleep_for(100ms);
  });
  auto [r, took] = watch(server);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_THAT(r.error().format(), HasSubstr("did not end within 2s"));
  EXPECT_LT(took, 2s + 1s);
}

TEST_F(HostileServer, EndlessErrorBodyOfAWatchIsCutShort) {
  TlsServer server(ca_, [](TlsPeer& peer) {
    peer.read_head();
    peer.write(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nTransfer-Encoding: "
        "chunked\r\n\r\n");
    endless(peer, std::string(16384, 'e'));
  });
  auto [r, took] = watch(server);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, 500);
  EXPECT_LT(took, 3s + 1s);
}

TEST_F(HostileServer, HugeChainInAnIssuedCsrIsRefusedAtTheEleventhCertificate) {
  // Thousands of certificates in status.certificate: the response fits the body limit, the chain
  // is refused by the parser the agent installs through, before any of it is used.
  auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
  const std::string one = ca_.cert_pem();
  std::string pem;
  for (int i = 0; i < 2000; ++i) pem += one;
  nlohmann::json csr = {{"apiVersion", "certificates.k8s.io/v1"},
                        {"kind", "CertificateSigningRequest"},
                        {"metadata", {{"name", "node-csr-x"}, {"resourceVersion", "7"}}},
                        {"spec",
                         {{"request", base64_encode("x")},
                          {"signerName", "kubernetes.io/kube-apiserver-client-kubelet"},
                          {"usages", {"client auth"}}}},
                        {"status", {{"certificate", base64_encode(pem)}}}};
  const std::string body = csr.dump();
  ASSERT_LT(body.size(), Options{}.body_limit);
  TlsServer server(ca_, [&](TlsPeer& peer) {
    peer.read_head();
    peer.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body);
  });
  auto [r, took] = get(server);
  ASSERT_TRUE(r) << r.error().format();
  auto chain = rotation::parse_certificates_pem(r->certificate_pem, "status.certificate of csr node-csr-x");
  ASSERT_FALSE(chain);
  EXPECT_THAT(chain.error().format(),
              HasSubstr("status.certificate of csr node-csr-x: more than 10 certificates"));
  EXPECT_LT(took, 3s);
}

}  // namespace
}  // namespace kcd::api

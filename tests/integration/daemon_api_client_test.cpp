// The API client over real TLS on 127.0.0.1 against a replay server that answers with the
// bytes the real kube-apiserver sent (tests/fixtures/k8s-api), and checks what we send.
#include "daemon/api/client.hpp"
#include "rotation/certificate.hpp"
#include "rotation/key.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/run_awaitable.hpp"
#include "tests/support/test_ca.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

namespace kcd::api {
namespace {

namespace asio = boost::asio;
using kcd::testing::run;
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const fs::path kApi = fs::path(KCD_FIXTURES_DIR) / "k8s-api";
const std::string kToken = "abcdef.0123456789abcdef";

json fixture(const std::string& name) {
  return json::parse(testing::read_text(kApi / name));
}

// The recorded response of a *.json exchange as HTTP/1.1 bytes (Content-Length framing).
std::string recorded_response(const std::string& file) {
  const json f = fixture(file);
  const json& r = f["response"];
  std::string body = r["body_raw"];
  std::string out =
      "HTTP/1.1 " + std::to_string(r["status"].get<int>()) + " " + r["reason"].get<std::string>() + "\r\n";
  for (const auto& [k, v] : r["headers"].items()) {
    if (k == "Content-Length" || k == "Transfer-Encoding") continue;
    out += k + ": " + v.get<std::string>() + "\r\n";
  }
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return out;
}

struct Seen {
  std::string head;  // request line + headers
  std::string body;
  std::string peer_cn;  // CN of the client certificate, if one was presented
};

// One-connection-at-a-time TLS server: reads a request, records it, answers with canned bytes.
class ReplayServer {
 public:
  struct Options {
    bool require_client_cert = false;
    std::vector<std::string> server_dns = {};  // empty: 127.0.0.1 + localhost
    bool hold_open_after_reply = false;        // keep the connection (silent stream)
    // HTTP/1.1 keep-alive: the next reply answers the next request on the same connection (one
    // that stays silent for 300 ms is closed and the next connection accepted).
    bool keep_alive = false;
  };

  ReplayServer(const testing::TestCa& ca, std::vector<std::string> replies)
      : ReplayServer(ca, std::move(replies), Options()) {}
  ReplayServer(const testing::TestCa& ca, std::vector<std::string> replies, Options opts)
      : replies_(std::move(replies)), opts_(opts) {
    key_ = rotation::generate_key(KeyAlgorithm::EcdsaP256);
    if (opts.server_dns.empty()) {
      cert_ = ca.issue_server(key_.get());
    } else {
      testing::CertSpec spec;
      spec.subject.common_name = "elsewhere";
      spec.dns_names = opts.server_dns;
      spec.ext_key_usages = {"server auth"};
      spec.not_before = std::chrono::system_clock::now() - 1h;
      spec.not_after = std::chrono::system_clock::now() + 24h;
      cert_ = ca.issue(key_.get(), spec);
    }
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, cert_.get());
    SSL_CTX_use_PrivateKey(ctx_, key_.get());
    if (opts.require_client_cert) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         [](int, X509_STORE_CTX*) { return 1; });
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 8);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~ReplayServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    SSL_CTX_free(ctx_);
  }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  int connections() const { return connections_; }

 private:
  void serve() {
    std::size_t next = 0;
    while (next < replies_.size()) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      if (opts_.keep_alive) {
        timeval tv{0, 300000};
        ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      }
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        ::close(c);
        continue;
      }
      do {
        const std::string& reply = replies_[next];
        Seen s;
        if (X509* peer = SSL_get0_peer_certificate(ssl))
          s.peer_cn = rotation::inspect_certificate(peer).common_name;
        std::string data;
        char buf[4096];
        std::size_t header_end = std::string::npos;
        while (header_end == std::string::npos) {
          int n = SSL_read(ssl, buf, sizeof buf);
          if (n <= 0) break;
          data.append(buf, static_cast<std::size_t>(n));
          header_end = data.find("\r\n\r\n");
        }
        if (header_end != std::string::npos) {
          s.head = data.substr(0, header_end);
          std::size_t want = 0;
          if (auto p = s.head.find("Content-Length: "); p != std::string::npos)
            want = std::stoul(s.head.substr(p + 16));
          s.body = data.substr(header_end + 4);
          while (s.body.size() < want) {
            int n = SSL_read(ssl, buf, sizeof buf);
            if (n <= 0) break;
            s.body.append(buf, static_cast<std::size_t>(n));
          }
          {
            std::lock_guard<std::mutex> lock(mu_);
            seen_.push_back(s);
          }
          SSL_write(ssl, reply.data(), static_cast<int>(reply.size()));
          ++next;
          if (opts_.hold_open_after_reply) {
            while (!stop_) std::this_thread::sleep_for(10ms);
          }
        } else {
          break;
        }
      } while (opts_.keep_alive && next < replies_.size());
      SSL_free(ssl);
      ::close(c);
    }
  }

  std::vector<std::string> replies_;
  Options opts_;
  ossl::PKeyPtr key_;
  ossl::X509Ptr cert_;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<Seen> seen_;
};

class ApiClientTest : public ::testing::Test {
 protected:
  Endpoint endpoint(const std::string& url) const {
    return Endpoint{config::parse_server_url(url).value(), ca_.cert_pem(), std::nullopt};
  }
  Credentials token() const {
    Credentials c;
    c.bearer_token = kToken;
    return c;
  }
  // Two GETs through one connection cache, each by a Client of its own, the second with
  // `second_credentials`; the server keeps its connections alive when `keep_alive`.
  struct TwoClients {
    std::unique_ptr<ReplayServer> server;
    Stats first, second;
  };
  TwoClients two_gets(bool keep_alive, const Credentials& second_credentials) {
    ReplayServer::Options opts;
    opts.keep_alive = keep_alive;
    TwoClients out;
    out.server = std::make_unique<ReplayServer>(
        ca_,
        std::vector<std::string>{recorded_response("csr-get-approved-issued.json"),
                                 recorded_response("csr-get-approved-issued.json")},
        opts);
    Options options;
    options.connections = make_connection_cache(io_);
    Client first(io_, endpoint(out.server->url()), token(), options);
    EXPECT_TRUE(run(io_, first.get_csr("x")));
    Client second(io_, endpoint(out.server->url()), second_credentials, options);
    auto result = run(io_, second.get_csr("x"));
    EXPECT_TRUE(result) << result.error().format();
    out.first = first.stats();
    out.second = second.stats();
    return out;
  }
  testing::TestCa ca_ = testing::TestCa::create_root("kubernetes");
  asio::io_context io_;
};

TEST_F(ApiClientTest, CreateSendsWhatClientGoSendsAndParsesThe201) {
  ReplayServer server(ca_, {recorded_response("csr-create-201.json")});
  Client client(io_, endpoint(server.url()), token());
  const json recorded = fixture("csr-create-201.json")["request"]["body"];
  CsrCreate req;
  req.name = recorded["metadata"]["name"];
  req.signer_name = recorded["spec"]["signerName"];
  req.usages = recorded["spec"]["usages"].get<std::vector<std::string>>();
  req.request_pem = testing::read_text(kApi / "testnode1-bootstrap-ec.csr.pem");
  auto result = run(io_, client.create_csr(req));
  ASSERT_TRUE(result) << result.error().format();
  EXPECT_EQ(result->name, "node-csr-testnode1-ec-1795343548");
  EXPECT_EQ(result->resource_version, "252");
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(
      seen[0].head.rfind("POST /apis/certificates.k8s.io/v1/certificatesigningrequests HTTP/1.1\r\n", 0), 0u)
      << seen[0].head;
  EXPECT_NE(seen[0].head.find("Authorization: Bearer " + kToken), std::string::npos);
  EXPECT_NE(seen[0].head.find("Content-Type: application/json"), std::string::npos);
  EXPECT_NE(seen[0].head.find("Accept: application/json"), std::string::npos);
  EXPECT_NE(seen[0].head.find("Host: 127.0.0.1:" + std::to_string(server.port())), std::string::npos);
  EXPECT_EQ(json::parse(seen[0].body), recorded);
  EXPECT_EQ(client.stats().requests, 1);
}

TEST_F(ApiClientTest, AKeptAliveConnectionCarriesTheNextRequestOfAnotherClient) {
  const auto r = two_gets(true, token());
  EXPECT_EQ(r.server->seen().size(), 2u);
  EXPECT_EQ(r.server->connections(), 1);
  EXPECT_EQ(r.first.connections, 1);
  EXPECT_EQ(r.second.connections, 0);
  EXPECT_EQ(r.second.reused, 1);
}

TEST_F(ApiClientTest, OtherCredentialsNeverShareAKeptAliveConnection) {
  Credentials other;
  other.bearer_token = "zyxwvu.0123456789abcdef";
  const auto r = two_gets(true, other);
  EXPECT_EQ(r.second.connections, 1);
  EXPECT_EQ(r.second.reused, 0);
  ASSERT_EQ(r.server->seen().size(), 2u);
  EXPECT_NE(r.server->seen()[1].head.find("Authorization: Bearer zyxwvu.0123456789abcdef"),
            std::string::npos);
}

TEST_F(ApiClientTest, AKeptAliveConnectionTheServerClosedIsReplacedByANewOne) {
  // This server closes every connection after its reply, whatever the reply said.
  const auto r = two_gets(false, token());
  EXPECT_EQ(r.server->connections(), 2);
  EXPECT_EQ(r.server->seen().size(), 2u);
}

TEST_F(ApiClientTest, RecordedErrorsBecomeTypedResults) {
  struct Case {
    const char* file;
    ErrorKind kind;
  } cases[] = {{"csr-create-409-alreadyexists.json", ErrorKind::AlreadyExists},
               {"unauthorized-401-bad-token.json", ErrorKind::Unauthorized},
               {"forbidden-403-anonymous-list-csrs.json", ErrorKind::Forbidden},
               {"csr-create-422-invalid-usage.json", ErrorKind::Invalid},
               {"not-found-404.json", ErrorKind::NotFound}};
  for (const auto& c : cases) {
    ReplayServer server(ca_, {recorded_response(c.file)});
    Client client(io_, endpoint(server.url()), token());
    auto result = run(io_, client.get_csr("x"));
    ASSERT_FALSE(result) << c.file;
    EXPECT_EQ(result.error().kind, c.kind) << c.file << ": " << result.error().format();
    EXPECT_EQ(result.error().format().find(kToken), std::string::npos);
  }
}

TEST_F(ApiClientTest, TooManyRequestsCarriesRetryAfter) {
  const std::string body =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429})";
  const std::string reply =
      "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: "
      "4\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ReplayServer server(ca_, {reply});
  Client client(io_, endpoint(server.url()), token());
  auto result = run(io_, client.get_csr("x"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::TooManyRequests);
  EXPECT_EQ(result.error().retry_after, 4s);
}

TEST_F(ApiClientTest, GetParsesAChunkedIssuedCsr) {
  const json f = fixture("csr-get-approved-issued.json");
  const std::string body = f["response"]["body_raw"];
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  const std::string reply =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
      std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n";
  ReplayServer server(ca_, {reply});
  Client client(io_, endpoint(server.url()), token());
  auto result = run(io_, client.get_csr("node-csr-testnode1-ec-1795343548"));
  ASSERT_TRUE(result) << result.error().format();
  EXPECT_TRUE(result->issued());
  EXPECT_EQ(
      server.seen()[0].head.rfind(
          "GET /apis/certificates.k8s.io/v1/certificatesigningrequests/node-csr-testnode1-ec-1795343548 "
          "HTTP/1.1",
          0),
      0u);
}

struct WatchRun {
  Result<WatchEnd> end = Unexpected(Error{});
  std::vector<WatchEvent> events;
};

WatchRun watch(asio::io_context& io, Client& client, std::chrono::seconds read_deadline = 5s,
               bool stop_at_issued = true) {
  WatchRun w;
  w.end = run(io, client.watch_csr("node-csr-testnode1-ec-1795343548", "252", 300s, read_deadline,
                                   [&](const WatchEvent& ev) {
                                     w.events.push_back(ev);
                                     return !(stop_at_issued && ev.object.issued());
                                   }));
  return w;
}

TEST_F(ApiClientTest, WatchDeliversTheRecordedBootstrapEvents) {
  ReplayServer server(ca_, {testing::read_text(kApi / "watch-csr-bootstrap-ec.http-raw.txt")});
  Client client(io_, endpoint(server.url()), token());
  auto w = watch(io_, client);
  ASSERT_TRUE(w.end) << w.end.error().format();
  EXPECT_EQ(*w.end, WatchEnd::ByHandler);
  ASSERT_EQ(w.events.size(), 3u);
  EXPECT_TRUE(w.events[1].object.approved());
  EXPECT_TRUE(w.events[2].object.issued());
  const std::string head = server.seen()[0].head;
  EXPECT_EQ(
      head.rfind("GET "
                 "/apis/certificates.k8s.io/v1/"
                 "certificatesigningrequests?fieldSelector=metadata.name%3Dnode-csr-testnode1-ec-1795343548"
                 "&resourceVersion=252&timeoutSeconds=300&watch=true HTTP/1.1",
                 0),
      0u)
      << head;
}

TEST_F(ApiClientTest, WatchTooOldDeliversTheErrorEvent) {
  ReplayServer server(ca_, {testing::read_text(kApi / "watch-csr-rv-too-old.http-raw.txt")});
  Client client(io_, endpoint(server.url()), token());
  auto w = watch(io_, client);
  ASSERT_TRUE(w.end) << w.end.error().format();
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_EQ(w.events[0].type, WatchEvent::Type::Error);
  EXPECT_EQ(w.events[0].error->code, 410);
  EXPECT_EQ(*w.end, WatchEnd::ServerClosed);
}

TEST_F(ApiClientTest, WatchEndedByTimeoutSecondsIsServerClosed) {
  ReplayServer server(ca_, {testing::read_text(kApi / "watch-csr-timeoutseconds-2.http-raw.txt")});
  Client client(io_, endpoint(server.url()), token());
  auto w = watch(io_, client);
  ASSERT_TRUE(w.end) << w.end.error().format();
  EXPECT_EQ(*w.end, WatchEnd::ServerClosed);
  EXPECT_TRUE(w.events.empty());
}

TEST_F(ApiClientTest, SilentWatchHitsTheReadDeadline) {
  // The apiserver-restart recording: headers, then nothing for 60 s.
  std::string raw = testing::read_text(kApi / "watch-csr-during-apiserver-restart.http-raw.txt");
  raw = raw.substr(0, raw.find("\r\n\r\n") + 4);
  ReplayServer::Options opts;
  opts.hold_open_after_reply = true;
  ReplayServer server(ca_, {raw}, opts);
  Client client(io_, endpoint(server.url()), token());
  const auto t0 = std::chrono::steady_clock::now();
  auto w = watch(io_, client, 1s);
  ASSERT_TRUE(w.end) << w.end.error().format();
  EXPECT_EQ(*w.end, WatchEnd::Silent);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

// Issue 10, class 12: a DNS server that never answers. The lookup runs off the loop, so a
// cancel (SIGTERM) and the connect deadline end the request although getaddrinfo never returns.
TEST_F(ApiClientTest, AHungNameLookupEndsAtTheConnectDeadlineOrACancel) {
  struct Hang {
    std::mutex mu;
    std::condition_variable cv;
    bool released = false;
  };
  auto hang = std::make_shared<Hang>();
  Options options;
  options.connect_timeout = 1s;
  options.lookup = [hang](const std::string&) -> Expected<std::vector<std::string>> {
    std::unique_lock lock(hang->mu);
    hang->cv.wait(lock, [&] { return hang->released; });
    return std::vector<std::string>{"127.0.0.1"};
  };
  const Endpoint api = endpoint("https://apiserver.example.invalid:6443");
  CsrCreate req;
  req.name = "node-csr-hung-dns";
  {
    Client client(io_, api, token(), options);
    auto r = run(io_, client.create_csr(req));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::Timeout) << r.error().format();
    EXPECT_NE(r.error().message.find("resolving apiserver.example.invalid timed out"), std::string::npos);
  }
  {
    options.connect_timeout = 60s;
    Client client(io_, api, token(), options);
    asio::steady_timer timer(io_, 100ms);
    timer.async_wait([&](boost::system::error_code) { client.cancel(); });
    auto r = run(io_, client.create_csr(req));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::Cancelled) << r.error().format();
  }
  {
    std::lock_guard lock(hang->mu);
    hang->released = true;
  }
  hang->cv.notify_all();
}

TEST_F(ApiClientTest, CancelAbortsAWatchWithinMilliseconds) {
  std::string raw = testing::read_text(kApi / "watch-csr-during-apiserver-restart.http-raw.txt");
  raw = raw.substr(0, raw.find("\r\n\r\n") + 4);
  ReplayServer::Options opts;
  opts.hold_open_after_reply = true;
  ReplayServer server(ca_, {raw}, opts);
  Client client(io_, endpoint(server.url()), token());
  asio::steady_timer timer(io_, 300ms);
  std::chrono::steady_clock::time_point cancelled_at;
  timer.async_wait([&](boost::system::error_code) {
    cancelled_at = std::chrono::steady_clock::now();
    client.cancel();
  });
  auto w = watch(io_, client, 60s);
  const auto took = std::chrono::steady_clock::now() - cancelled_at;
  ASSERT_FALSE(w.end);
  EXPECT_EQ(w.end.error().kind, ErrorKind::Cancelled);
  EXPECT_LT(took, 100ms);
}

TEST_F(ApiClientTest, ConnectionRefusedIsANetworkError) {
  int port = 0;
  {
    ReplayServer server(ca_, {});
    port = server.port();
  }
  Client client(io_, endpoint("https://127.0.0.1:" + std::to_string(port)), token());
  auto result = run(io_, client.get_csr("x"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Network);
  EXPECT_TRUE(result.error().retryable);
}

TEST_F(ApiClientTest, ServerFromAnotherCaIsRefused) {
  auto other = testing::TestCa::create_root("not-the-cluster-ca");
  ReplayServer server(other, {recorded_response("csr-get-approved-issued.json")});
  Client client(io_, endpoint(server.url()), token());
  auto result = run(io_, client.get_csr("x"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Tls);
  EXPECT_NE(result.error().message.find("unable to get local issuer certificate"), std::string::npos)
      << result.error().message;
  EXPECT_TRUE(server.seen().empty()) << "a request was sent to an unverified server";
}

TEST_F(ApiClientTest, ServerCertificateForAnotherNameIsRefused) {
  ReplayServer::Options opts;
  opts.server_dns = {"elsewhere.example"};
  ReplayServer server(ca_, {recorded_response("csr-get-approved-issued.json")}, opts);
  Client client(io_, endpoint(server.url()), token());
  auto result = run(io_, client.get_csr("x"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Tls);
  EXPECT_NE(result.error().message.find("IP address mismatch"), std::string::npos) << result.error().message;
  // With tls-server-name set to the name in the certificate, the same server is accepted.
  Endpoint named = endpoint(server.url());
  named.tls_server_name = "elsewhere.example";
  ReplayServer server2(ca_, {recorded_response("csr-get-approved-issued.json")}, opts);
  named.server = config::parse_server_url(server2.url()).value();
  Client client2(io_, named, token());
  EXPECT_TRUE(run(io_, client2.get_csr("x")));
}

TEST_F(ApiClientTest, ClientCertificateAuthenticationPresentsTheFilesCertificate) {
  testing::TempDir tmp;
  auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
  testing::CertSpec spec;
  spec.subject = {"system:node:n1", {"system:nodes"}};
  spec.ext_key_usages = {"client auth"};
  spec.not_before = std::chrono::system_clock::now() - 1h;
  spec.not_after = std::chrono::system_clock::now() + 1h;
  auto cert = ca_.issue(key.get(), spec);
  std::ofstream(tmp / "current.pem") << testing::to_pem(cert.get())
                                     << rotation::private_key_to_pem(key.get());
  ReplayServer::Options opts;
  opts.require_client_cert = true;
  ReplayServer server(ca_, {recorded_response("csr-get-as-node-200.json")}, opts);
  Credentials creds;
  creds.client_cert_file = tmp / "current.pem";
  creds.client_key_file = tmp / "current.pem";
  Client client(io_, endpoint(server.url()), creds);
  auto result = run(io_, client.get_csr("x"));
  ASSERT_TRUE(result) << result.error().format();
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_EQ(server.seen()[0].peer_cn, "system:node:n1");
  EXPECT_EQ(server.seen()[0].head.find("Authorization"), std::string::npos);
}

TEST_F(ApiClientTest, MismatchedClientKeyIsAClearErrorNamingTheFile) {
  testing::TempDir tmp;
  auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
  auto other = rotation::generate_key(KeyAlgorithm::EcdsaP256);
  testing::CertSpec spec;
  spec.subject = {"system:node:n1", {"system:nodes"}};
  spec.not_before = std::chrono::system_clock::now() - 1h;
  spec.not_after = std::chrono::system_clock::now() + 1h;
  std::ofstream(tmp / "c.pem") << testing::to_pem(ca_.issue(key.get(), spec).get())
                               << rotation::private_key_to_pem(other.get());
  Credentials creds;
  creds.client_cert_file = tmp / "c.pem";
  creds.client_key_file = tmp / "c.pem";
  Client client(io_, endpoint("https://127.0.0.1:1"), creds);
  auto result = run(io_, client.get_csr("x"));
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find((tmp / "c.pem").string()), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("do not match"), std::string::npos);
}

TEST(ApiServerUrl, ParsesHostsPortsAndPrefixes) {
  auto a = config::parse_server_url("https://10.0.0.1:6443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "10.0.0.1");
  EXPECT_EQ(a->port, "6443");
  EXPECT_TRUE(a->host_is_ip);
  auto b = config::parse_server_url("https://[::1]:6443/k8s/");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->path_prefix, "/k8s");
  EXPECT_TRUE(b->host_is_ip);
  auto c = config::parse_server_url("https://api.example.com");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->port, "443");
  EXPECT_FALSE(c->host_is_ip);
  EXPECT_FALSE(config::parse_server_url("http://x:1"));
  EXPECT_FALSE(config::parse_server_url("https://x:port"));
}

}  // namespace
}  // namespace kcd::api

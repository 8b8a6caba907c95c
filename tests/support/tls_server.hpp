// A TLS server for tests on 127.0.0.1 port 0, with a certificate from a TestCa: each
// connection is accepted in turn and handed to the test's handler, which reads the request
// and answers with whatever bytes it likes (recorded replies, or hostile ones).
#pragma once

#include "tests/support/test_ca.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace kcd::testing {

// One accepted TLS connection, as the handler sees it.
class TlsPeer {
 public:
  TlsPeer(SSL* ssl, const std::atomic<bool>& stopping) : ssl_(ssl), stopping_(stopping) {}
  // The request head (request line and headers, without the blank line); "" if the peer left.
  std::string read_head();
  // Reads exactly n more bytes (fewer if the peer leaves).
  std::string read(std::size_t n);
  // Writes all of `bytes`; false once the peer is gone or the server stops.
  bool write(const std::string& bytes);
  // The server is being destroyed: endless handlers end.
  bool stopping() const { return stopping_.load(); }
  SSL* ssl() const { return ssl_; }

 private:
  SSL* ssl_;
  const std::atomic<bool>& stopping_;
  std::string buffered_;  // read past the head
};

class TlsServer {
 public:
  using Handler = std::function<void(TlsPeer&)>;
  // Serves up to `connections` connections, one after another, each with `handler`.
  TlsServer(const TestCa& ca, Handler handler, int connections = 1, bool require_client_cert = false);
  ~TlsServer();
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_.load(); }

 private:
  void serve(int connections);

  Handler handler_;
  ossl::PKeyPtr key_;
  ossl::X509Ptr cert_;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> conn_fd_{-1};
  std::thread thread_;
};

}  // namespace kcd::testing

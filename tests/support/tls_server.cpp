#include "tests/support/tls_server.hpp"

#include "rotation/key.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>

namespace kcd::testing {

std::string TlsPeer::read_head() {
  char buf[4096];
  std::size_t end;
  while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) {
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) return {};
    buffered_.append(buf, static_cast<std::size_t>(n));
  }
  std::string head = buffered_.substr(0, end);
  buffered_.erase(0, end + 4);
  return head;
}

std::string TlsPeer::read(std::size_t n) {
  char buf[4096];
  while (buffered_.size() < n) {
    const int got = SSL_read(ssl_, buf, sizeof buf);
    if (got <= 0) break;
    buffered_.append(buf, static_cast<std::size_t>(got));
  }
  std::string out = buffered_.substr(0, std::min(n, buffered_.size()));
  buffered_.erase(0, out.size());
  return out;
}

bool TlsPeer::write(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    if (stopping()) return false;
    const int n = SSL_write(ssl_, bytes.data() + done, static_cast<int>(bytes.size() - done));
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

TlsServer::TlsServer(const TestCa& ca, Handler handler, int connections, bool require_client_cert)
    : handler_(std::move(handler)) {
  // A client that gives up closes its socket while a handler still writes: EPIPE, not SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  key_ = rotation::generate_key(KeyAlgorithm::EcdsaP256);
  cert_ = ca.issue_server(key_.get());
  ctx_ = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx_, cert_.get());
  SSL_CTX_use_PrivateKey(ctx_, key_.get());
  if (require_client_cert) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       [](int, X509_STORE_CTX*) { return 1; });
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 8) != 0)
    throw std::runtime_error("TlsServer: cannot listen on 127.0.0.1");
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this, connections] { serve(connections); });
}

TlsServer::~TlsServer() {
  stop_ = true;
  ::shutdown(fd_, SHUT_RDWR);
  // Wakes a handler blocked on the connection.
  if (const int c = conn_fd_.load(); c >= 0) ::shutdown(c, SHUT_RDWR);
  thread_.join();
  ::close(fd_);
  SSL_CTX_free(ctx_);
}

void TlsServer::serve(int connections) {
  for (int i = 0; i < connections && !stop_; ++i) {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    conn_fd_ = c;
    ++accepted_;
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      TlsPeer peer(ssl, stop_);
      handler_(peer);
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    conn_fd_ = -1;
    ::close(c);
  }
}

}  // namespace kcd::testing

#include "tests/support/raw_https.hpp"

#include "rotation/certificate.hpp"
#include "rotation/key.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace kcd::testing {

std::string HttpMessage::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

HttpMessage parse_http_response(const std::string& raw) {
  HttpMessage m;
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return m;
  const std::string head = raw.substr(0, head_end);
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.size() >= 12) m.status = std::stoi(status_line.substr(9, 3));
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    const std::string line = head.substr(pos, e - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      if (!v.empty() && v.front() == ' ') v.erase(0, 1);
      m.headers.emplace_back(line.substr(0, colon), v);
    }
    pos = e + 2;
  }
  const std::string rest = raw.substr(head_end + 4);
  if (m.header("Transfer-Encoding") == "chunked") {
    m.chunked = true;
    std::size_t p = 0;
    for (;;) {
      const auto eol = rest.find("\r\n", p);
      if (eol == std::string::npos) break;
      const std::size_t size = std::stoul(rest.substr(p, eol - p), nullptr, 16);
      if (size == 0) {
        m.complete = true;
        break;
      }
      if (eol + 2 + size + 2 > rest.size()) break;
      m.chunks.push_back(rest.substr(eol + 2, size));
      m.body += m.chunks.back();
      p = eol + 2 + size + 2;
    }
  } else {
    const std::string cl = m.header("Content-Length");
    m.body = rest;
    m.complete = !cl.empty() && rest.size() >= std::stoul(cl);
  }
  return m;
}

RawHttps::RawHttps(uint16_t port, const std::string& ca_pem, const std::string& client_cert_pem,
                   const std::string& client_key_pem) {
  try {
    open(port, ca_pem, client_cert_pem, client_key_pem);
  } catch (...) {
    // A constructor that throws runs no destructor: what was made so far is released here.
    release();
    throw;
  }
}

void RawHttps::open(uint16_t port, const std::string& ca_pem, const std::string& client_cert_pem,
                    const std::string& client_key_pem) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect failed");
  ctx_ = SSL_CTX_new(TLS_client_method());
  auto anchors = rotation::parse_certificates_pem(ca_pem, "ca");
  if (!anchors) throw std::runtime_error(anchors.error().format());
  for (auto& a : *anchors) X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), a.get());
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (!client_cert_pem.empty()) {
    auto chain = rotation::parse_certificates_pem(client_cert_pem, "client cert");
    auto key = rotation::load_private_key_pem(client_key_pem, "client key");
    SSL_CTX_use_certificate(ctx_, chain->front().get());
    SSL_CTX_use_PrivateKey(ctx_, key->get());
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  static const unsigned char kAlpn[] = "\x08http/1.1";
  SSL_set_alpn_protos(ssl_, kAlpn, sizeof kAlpn - 1);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
  if (SSL_connect(ssl_) != 1) throw std::runtime_error("TLS handshake failed: " + ossl::drain_errors());
}

RawHttps::~RawHttps() {
  release();
}

void RawHttps::release() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
  ssl_ = nullptr;
  ctx_ = nullptr;
  fd_ = -1;
}

void RawHttps::send(const std::string& bytes) {
  if (SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) <= 0)
    throw std::runtime_error("SSL_write failed");
}

std::string RawHttps::read_response(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  for (;;) {
    if (parse_http_response(received_).complete) break;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    }
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) break;
    received_.append(buf, static_cast<std::size_t>(n));
  }
  return received_;
}

std::string http_request(const std::string& method, const std::string& target, uint16_t port,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& body) {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n";
  for (const auto& [k, v] : headers) r += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n" + body;
  return r;
}

}  // namespace kcd::testing

// A deliberately dumb blocking HTTPS client for tests: sends exact bytes and returns exact
// bytes, so wire-level behaviour (status line, header order, chunk framing) can be compared.
#pragma once

#include "base/openssl.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace kcd::testing {

struct HttpMessage {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in wire order
  std::string body;                                          // de-chunked
  std::vector<std::string> chunks;                           // when chunked
  bool chunked = false;
  bool complete = false;  // Content-Length reached / 0-chunk seen
  std::string header(const std::string& name) const;
};

// Parses whatever of a response `raw` holds.
HttpMessage parse_http_response(const std::string& raw);

class RawHttps {
 public:
  // Connects to 127.0.0.1:port, verifies the server against ca_pem; presents a client
  // certificate when cert/key PEMs are given.
  RawHttps(uint16_t port, const std::string& ca_pem, const std::string& client_cert_pem = {},
           const std::string& client_key_pem = {});
  ~RawHttps();
  RawHttps(const RawHttps&) = delete;
  RawHttps& operator=(const RawHttps&) = delete;

  void send(const std::string& bytes);
  // Reads until the response is complete, the peer closes, or `timeout` passes.
  std::string read_response(std::chrono::milliseconds timeout);
  const std::string& received() const { return received_; }

 private:
  void open(uint16_t port, const std::string& ca_pem, const std::string& client_cert_pem,
            const std::string& client_key_pem);
  void release();
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string received_;
};

// "METHOD target HTTP/1.1\r\nHost: ...\r\n<headers>\r\nContent-Length: n\r\n\r\n<body>".
std::string http_request(const std::string& method, const std::string& target, uint16_t port,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& body = {});

}  // namespace kcd::testing

// Boost.Asio 1.74's ssl::context is written against OpenSSL 1.x and calls APIs that OpenSSL 3
// deprecates (RSA, DH); its headers do not compile with OPENSSL_NO_DEPRECATED. This translation
// unit, the only one that includes them in the daemon, lowers the API level for their sake and
// includes them first. Our own code here uses no deprecated call.
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 10101
#include <boost/asio/ssl.hpp>

#include "daemon/api/client.hpp"
#include "daemon/off_loop.hpp"

#include "base/files.hpp"
#include "rotation/certificate.hpp"
#include "rotation/key.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cerrno>
#include <list>

namespace kcd::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using daemon::OffLoop;
using daemon::OffLoopEnd;
using daemon::OffLoopWait;
using tcp = asio::ip::tcp;

namespace {

// Lookups of the API server's name that never answer keep their thread; past this many, a
// request fails at once (and is retried with backoff) instead of starting another.
constexpr std::size_t kMaxHungApiLookups = 4;

// Shared by every client of the process.
std::shared_ptr<daemon::detail::OffLoopCount> api_lookups() {
  static const auto count = std::make_shared<daemon::detail::OffLoopCount>();
  return count;
}

// Built outside the coroutine that awaits it: GCC 12 mishandles lambda temporaries (with
// captured strings) in a co_await expression.
std::function<Expected<std::vector<std::string>>(const std::atomic<bool>&)> address_lookup(
    std::function<Expected<std::vector<std::string>>(const std::string&)> lookup, std::string host) {
  return
      [lookup = std::move(lookup), host = std::move(host)](const std::atomic<bool>&) { return lookup(host); };
}

constexpr std::string_view kCsrPath = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
// What is kept of a watch's error body (a Status object is well under this).
constexpr std::size_t kErrorBodyLimit = 64 << 10;

std::string url_escape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

using Stream = beast::ssl_stream<beast::tcp_stream>;

// One TLS connection and the context it was made with (the context must outlive it).
struct Conn {
  std::shared_ptr<ssl::context> ctx;
  std::unique_ptr<Stream> stream;
  bool reused = false;  // taken from the cache: the server may have closed it meanwhile
};

void close_conn(Conn& conn) {
  beast::error_code ignored;
  beast::get_lowest_layer(*conn.stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(*conn.stream).close();
}

// Whether an idle connection still looks usable: nothing to read (a FIN, a TLS alert or stray
// bytes all mean the server is done with it).
bool idle_and_open(Conn& conn) {
  const int fd = beast::get_lowest_layer(*conn.stream).socket().native_handle();
  char byte = 0;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// SHA-256 over what a connection is bound to: server, CA, and the credentials presented.
std::string connection_identity(std::initializer_list<std::string_view> parts) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1) return {};
  for (std::string_view p : parts) {
    const std::uint64_t len = p.size();
    // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
    EVP_DigestUpdate(md.get(), &len, sizeof len);
    EVP_DigestUpdate(md.get(), p.data(), p.size());
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (EVP_DigestFinal_ex(md.get(), out, &out_len) != 1) return {};
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

}  // namespace

class ConnectionCache : public std::enable_shared_from_this<ConnectionCache> {
 public:
  explicit ConnectionCache(asio::io_context& io) : io_(io) {}
  ~ConnectionCache() {
    for (auto& e : idle_) close_conn(e.conn);
  }
  ConnectionCache(const ConnectionCache&) = delete;
  ConnectionCache& operator=(const ConnectionCache&) = delete;

  // An idle connection made for `identity` that still looks open, or nullopt.
  std::optional<Conn> take(const std::string& identity) {
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (it->identity != identity) {
        ++it;
        continue;
      }
      Conn conn = std::move(it->conn);
      it = idle_.erase(it);
      if (idle_and_open(conn)) {
        conn.reused = true;
        return conn;
      }
      close_conn(conn);
    }
    return std::nullopt;
  }

  // Keeps `conn` for kIdleConnectionTimeout (the oldest goes when kMaxIdleConnections are kept).
  void put(std::string identity, Conn conn) {
    if (identity.empty() || closed_) return close_conn(conn);
    if (idle_.size() >= kMaxIdleConnections) {
      close_conn(idle_.front().conn);
      idle_.pop_front();
    }
    const std::uint64_t id = ++next_id_;
    auto timer = std::make_unique<asio::steady_timer>(io_, kIdleConnectionTimeout);
    timer->async_wait([weak = weak_from_this(), id](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->expire(id);
    });
    idle_.push_back(Entry{std::move(identity), std::move(conn), std::move(timer), id});
  }

  void close() {
    closed_ = true;
    for (auto& e : idle_) close_conn(e.conn);
    idle_.clear();  // the timers go with them: their waits end as cancelled
  }

 private:
  struct Entry {
    std::string identity;
    Conn conn;
    std::unique_ptr<asio::steady_timer> timer;
    std::uint64_t id;
  };

  void expire(std::uint64_t id) {
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if (it->id != id) continue;
      close_conn(it->conn);
      idle_.erase(it);
      return;
    }
  }

  asio::io_context& io_;
  std::list<Entry> idle_;
  std::uint64_t next_id_ = 0;
  bool closed_ = false;
};

std::shared_ptr<ConnectionCache> make_connection_cache(asio::io_context& io) {
  return std::make_shared<ConnectionCache>(io);
}

void close_connection_cache(ConnectionCache& cache) {
  cache.close();
}

struct Client::Impl {
  // Keeps a way to abort an operation registered while it is in flight.
  class CancelGuard {
   public:
    CancelGuard(Impl& impl, std::function<void()> fn) : impl_(impl) {
      it_ = impl_.cancellers.insert(impl_.cancellers.end(), std::move(fn));
    }
    ~CancelGuard() { impl_.cancellers.erase(it_); }
    CancelGuard(const CancelGuard&) = delete;
    CancelGuard& operator=(const CancelGuard&) = delete;

   private:
    Impl& impl_;
    std::list<std::function<void()>>::iterator it_;
  };

  Impl(asio::io_context& io_, Endpoint e, Credentials c, Options o)
      : io(io_), endpoint(std::move(e)), credentials(std::move(c)), options(std::move(o)) {}

  asio::io_context& io;
  Endpoint endpoint;
  Credentials credentials;
  Options options;
  Stats stats;
  bool cancelled = false;
  std::list<std::function<void()>> cancellers;
  std::string conn_identity;  // of the last connect(), for the connection cache

  Error from_ec(const boost::system::error_code& ec, std::string_view during) const {
    if (cancelled) return make_error(ErrorKind::Cancelled, "cancelled");
    if (ec == beast::error::timeout)
      return make_error(ErrorKind::Timeout,
                        std::string(during) + " timed out (" + endpoint.server.text + ")");
    return make_error(ErrorKind::Network,
                      std::string(during) + " " + endpoint.server.text + ": " + ec.message());
  }

  // The client certificate and key as PEM (read from their files, or given inline), empty with a
  // bearer token.
  struct Material {
    std::string cert_pem, key_pem;
    std::string cert_src = "client-certificate-data", key_src = "client-key-data";
  };

  Expected<Material> material() const {
    Material m;
    if (!credentials.client_cert_file && !credentials.client_cert_pem) return m;
    if (credentials.client_cert_file) {
      m.cert_src = credentials.client_cert_file->string();
      auto read = kcd::read_file(*credentials.client_cert_file, 1 << 20);
      if (!read) return Unexpected(make_error(ErrorKind::Tls, "client certificate: " + read.error().message));
      m.cert_pem = std::move(*read);
    } else {
      m.cert_pem = *credentials.client_cert_pem;
    }
    if (credentials.client_key_file) {
      m.key_src = credentials.client_key_file->string();
      auto read = kcd::read_file(*credentials.client_key_file, 1 << 20);
      if (!read) return Unexpected(make_error(ErrorKind::Tls, "client certificate: " + read.error().message));
      m.key_pem = std::move(*read);
    } else if (credentials.client_key_pem) {
      m.key_pem = *credentials.client_key_pem;
    }
    return m;
  }

  // What a kept-alive connection must match to be reused: the same server, CA and credentials
  // (a rotated client certificate at the same path is a different identity).
  std::string identity(const Material& m) const {
    return connection_identity({endpoint.server.text, endpoint.tls_server_name.value_or(""), endpoint.ca_pem,
                                credentials.bearer_token.value_or(""), m.cert_pem, m.key_pem});
  }

  Expected<std::shared_ptr<ssl::context>> make_context(const Material& m) const {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX* c = ctx->native_handle();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    ctx->set_verify_mode(ssl::verify_peer);
    auto anchors =
        rotation::parse_certificates_pem(endpoint.ca_pem, "cluster CA", rotation::kMaxBundleCertificates);
    if (!anchors) return Unexpected(make_error(ErrorKind::Tls, anchors.error().message));
    X509_STORE* store = SSL_CTX_get_cert_store(c);
    for (auto& a : *anchors) X509_STORE_add_cert(store, a.get());
    ERR_clear_error();

    if (credentials.client_cert_file || credentials.client_cert_pem) {
      const std::string& cert_src = m.cert_src;
      const std::string& key_src = m.key_src;
      auto chain = rotation::parse_certificates_pem(m.cert_pem, cert_src);
      if (!chain) return Unexpected(make_error(ErrorKind::Tls, chain.error().message));
      auto loaded = rotation::load_private_key_pem(m.key_pem, key_src);
      if (!loaded) return Unexpected(make_error(ErrorKind::Tls, "client key: " + loaded.error().message));
      ossl::PKeyPtr key = std::move(*loaded);
      if (SSL_CTX_use_certificate(c, chain->front().get()) != 1 ||
          SSL_CTX_use_PrivateKey(c, key.get()) != 1 || SSL_CTX_check_private_key(c) != 1) {
        ERR_clear_error();
        return Unexpected(make_error(
            ErrorKind::Tls, "client certificate " + cert_src + " and key " + key_src + " do not match"));
      }
      for (std::size_t i = 1; i < chain->size(); ++i) SSL_CTX_add1_chain_cert(c, (*chain)[i].get());
    }
    return ctx;
  }

  // A kept-alive connection for the same server and credentials when `reuse` and there is one,
  // else a new one.
  asio::awaitable<Result<Conn>> connect(bool reuse) {
    if (cancelled) co_return Unexpected(make_error(ErrorKind::Cancelled, "cancelled"));
    const config::ServerUrl* url = &endpoint.server;
    auto m = material();
    if (!m) co_return Unexpected(m.error());
    conn_identity = options.connections ? identity(*m) : std::string();
    if (reuse && options.connections) {
      if (auto kept = options.connections->take(conn_identity)) {
        ++stats.reused;
        co_return std::move(*kept);
      }
    }
    auto ctx = make_context(*m);
    if (!ctx) co_return Unexpected(ctx.error());

    boost::system::error_code ec;
    // getaddrinfo runs off the loop: Asio's resolver would hold a stop (and this request's
    // deadline) for as long as a dead DNS server keeps getaddrinfo waiting.
    std::vector<tcp::endpoint> results;
    {
      OffLoop lookups(io, kMaxHungApiLookups, api_lookups());
      OffLoopWait* waiting = nullptr;
      CancelGuard guard(*this, [&waiting] {
        if (waiting != nullptr) waiting->cancel();
      });
      auto work = address_lookup(options.lookup, url->host);
      auto found = co_await lookups.call<Expected<std::vector<std::string>>>(
          std::move(work), options.connect_timeout, &waiting);
      switch (found.end) {
        case OffLoopEnd::Done:
          break;
        case OffLoopEnd::Cancelled:
          co_return Unexpected(make_error(ErrorKind::Cancelled, "cancelled"));
        case OffLoopEnd::TimedOut:
          co_return Unexpected(make_error(ErrorKind::Timeout, "resolving " + url->host + " timed out"));
        case OffLoopEnd::Busy:
          co_return Unexpected(make_error(ErrorKind::Network, "resolving " + url->host + ": " +
                                                                  std::to_string(kMaxHungApiLookups) +
                                                                  " earlier lookups still hang"));
      }
      if (!*found.value) co_return Unexpected(make_error(ErrorKind::Network, found.value->error().message));
      const auto port = static_cast<unsigned short>(std::stoi(url->port));
      for (const auto& address : **found.value) results.emplace_back(asio::ip::make_address(address), port);
    }

    Conn conn;
    conn.ctx = std::move(*ctx);
    conn.stream = std::make_unique<Stream>(io, *conn.ctx);
    Stream& stream = *conn.stream;
    CancelGuard guard(*this, [&stream] { beast::get_lowest_layer(stream).close(); });
    beast::get_lowest_layer(stream).expires_after(options.connect_timeout);
    co_await beast::get_lowest_layer(stream).async_connect(results,
                                                           asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Unexpected(from_ec(ec, "connecting to"));
    ++stats.connections;
    // Small request/response pairs: without this, Nagle + delayed ACK add ~40 ms per exchange.
    beast::get_lowest_layer(stream).socket().set_option(tcp::no_delay(true), ec);

    SSL* ssl_handle = stream.native_handle();
    const std::string verify_name = endpoint.tls_server_name.value_or(url->host);
    const bool verify_ip = !endpoint.tls_server_name && url->host_is_ip;
    if (verify_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), verify_name.c_str());
    } else {
      SSL_set1_host(ssl_handle, verify_name.c_str());
      SSL_set_tlsext_host_name(ssl_handle, verify_name.c_str());
    }
    // The apiserver negotiates h2 when offered; our client speaks HTTP/1.1 (chunked watches).
    static const unsigned char kAlpn[] = "\x08http/1.1";
    SSL_set_alpn_protos(ssl_handle, kAlpn, sizeof kAlpn - 1);

    beast::get_lowest_layer(stream).expires_after(options.request_timeout);
    co_await stream.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (cancelled) co_return Unexpected(make_error(ErrorKind::Cancelled, "cancelled"));
      const long verify = SSL_get_verify_result(ssl_handle);
      ERR_clear_error();
      if (verify != X509_V_OK) {
        co_return Unexpected(
            make_error(ErrorKind::Tls,
                       "TLS handshake with " + endpoint.server.text +
                           ": server certificate not accepted: " + X509_verify_cert_error_string(verify) +
                           " (checked against the cluster CA for " + verify_name + ")"));
      }
      if (ec == beast::error::timeout) co_return Unexpected(from_ec(ec, "TLS handshake with"));
      co_return Unexpected(
          make_error(ErrorKind::Tls, "TLS handshake with " + endpoint.server.text + ": " + ec.message()));
    }
    co_return std::move(conn);
  }

  http::request<http::string_body> make_request(http::verb verb, const std::string& target, std::string body,
                                                std::string_view content_type = "application/json") const {
    const config::ServerUrl* url = &endpoint.server;
    http::request<http::string_body> req{verb, url->path_prefix + target, 11};
    const bool v6 = url->host.find(':') != std::string::npos;
    req.set(http::field::host, (v6 ? "[" + url->host + "]" : url->host) + ":" + url->port);
    req.set(http::field::user_agent, options.user_agent);
    req.set(http::field::accept, "application/json");
    if (credentials.bearer_token) req.set(http::field::authorization, "Bearer " + *credentials.bearer_token);
    if (!body.empty()) {
      req.set(http::field::content_type, content_type);
      req.body() = std::move(body);
    }
    req.prepare_payload();
    return req;
  }

  static void close(Conn& conn) { close_conn(conn); }

  // After a complete exchange: kept for the next request when the server keeps it alive and
  // nothing beyond the response arrived, else closed.
  void release(Conn conn, bool keep_alive) {
    if (keep_alive && options.connections && !cancelled) {
      options.connections->put(conn_identity, std::move(conn));
    } else {
      close(conn);
    }
  }

  // One request/response exchange, on a kept-alive connection when there is one. A kept-alive
  // connection the server closed meanwhile fails before any byte of a response: the request is
  // then sent once more on a new connection (a CSR create sent twice gets 409 AlreadyExists,
  // which the agent resumes from: CSR names derive from the key).
  asio::awaitable<Result<http::response<http::string_body>>> exchange(http::request<http::string_body> req) {
    for (int attempt = 0;; ++attempt) {
      auto conn = co_await connect(attempt == 0);
      if (!conn) co_return Unexpected(conn.error());
      Stream& stream = *conn->stream;
      CancelGuard guard(*this, [&stream] { beast::get_lowest_layer(stream).close(); });
      const bool retry_on_failure = conn->reused;
      boost::system::error_code ec;
      ++stats.requests;
      beast::get_lowest_layer(stream).expires_after(options.request_timeout);
      co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        close(*conn);
        if (retry_on_failure && !cancelled) continue;
        co_return Unexpected(from_ec(ec, "sending the request to"));
      }
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(options.body_limit);
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        close(*conn);
        if (retry_on_failure && !cancelled && !parser.got_some()) continue;
        co_return Unexpected(from_ec(ec, "reading the response from"));
      }
      auto res = parser.release();
      release(std::move(*conn), res.keep_alive() && buffer.size() == 0);
      co_return res;
    }
  }
};

Client::Client(asio::io_context& io, Endpoint endpoint, Credentials credentials, Options options)
    : impl_(std::make_unique<Impl>(io, std::move(endpoint), std::move(credentials), std::move(options))) {}

Client::~Client() = default;

asio::awaitable<Result<Csr>> Client::create_csr(const CsrCreate& request) {
  auto res = co_await impl_->exchange(
      impl_->make_request(http::verb::post, std::string(kCsrPath), csr_create_body(request)));
  if (!res) co_return Unexpected(res.error());
  co_return csr_from_response(static_cast<int>(res->result_int()), res->body(),
                              std::string_view((*res)[http::field::retry_after]), 201);
}

asio::awaitable<Result<Csr>> Client::get_csr(const std::string& name) {
  auto res = co_await impl_->exchange(
      impl_->make_request(http::verb::get, std::string(kCsrPath) + "/" + url_escape(name), {}));
  if (!res) co_return Unexpected(res.error());
  co_return csr_from_response(static_cast<int>(res->result_int()), res->body(),
                              std::string_view((*res)[http::field::retry_after]), 200);
}

asio::awaitable<Result<CsrList>> Client::list_csrs(const std::string& field_selector, int page_size) {
  // In pages of kListPageSize, as client-go's pager lists: each response stays small, and the
  // pages are one consistent snapshot (the first page's resourceVersion). An expired continue
  // token (410) is returned as it is: the caller lists again from the start.
  CsrList all;
  std::string token;
  for (;;) {
    std::string target = std::string(kCsrPath) + "?";
    if (!field_selector.empty()) target += "fieldSelector=" + url_escape(field_selector) + "&";
    target += "limit=" + std::to_string(std::max(1, page_size));
    if (!token.empty()) target += "&continue=" + url_escape(token);
    auto res = co_await impl_->exchange(impl_->make_request(http::verb::get, target, {}));
    if (!res) co_return Unexpected(res.error());
    auto page = csr_list_from_response(static_cast<int>(res->result_int()), res->body(),
                                       std::string_view((*res)[http::field::retry_after]));
    if (!page) co_return Unexpected(page.error());
    if (token.empty()) all.resource_version = page->resource_version;
    for (auto& item : page->items) all.items.push_back(std::move(item));
    if (all.items.size() > kMaxListItems) {
      co_return Unexpected(make_error(ErrorKind::Unexpected,
                                      "the CSR list from " + impl_->endpoint.server.text + " has more than " +
                                          std::to_string(kMaxListItems) + " items"));
    }
    if (page->continue_token.empty() || page->continue_token == token) break;
    token = page->continue_token;
  }
  co_return all;
}

asio::awaitable<Result<Csr>> Client::update_approval(const Csr& csr, const CsrCondition& condition) {
  const std::string target = std::string(kCsrPath) + "/" + url_escape(csr.name) + "/approval";
  auto req = impl_->make_request(http::verb::put, target, csr_approval_body(csr, condition));
  auto res = co_await impl_->exchange(std::move(req));
  if (!res) co_return Unexpected(res.error());
  co_return csr_from_response(static_cast<int>(res->result_int()), res->body(),
                              std::string_view((*res)[http::field::retry_after]), 200);
}

asio::awaitable<Result<Node>> Client::get_node(const std::string& name) {
  auto res =
      co_await impl_->exchange(impl_->make_request(http::verb::get, "/api/v1/nodes/" + url_escape(name), {}));
  if (!res) co_return Unexpected(res.error());
  co_return node_from_response(static_cast<int>(res->result_int()), res->body(),
                               std::string_view((*res)[http::field::retry_after]));
}

asio::awaitable<Result<ConfigMap>> Client::get_config_map(const std::string& ns, const std::string& name) {
  const std::string target = "/api/v1/namespaces/" + url_escape(ns) + "/configmaps/" + url_escape(name);
  auto res = co_await impl_->exchange(impl_->make_request(http::verb::get, target, {}));
  if (!res) co_return Unexpected(res.error());
  co_return config_map_from_response(static_cast<int>(res->result_int()), res->body(),
                                     std::string_view((*res)[http::field::retry_after]));
}

namespace {
std::string lease_path(const std::string& ns, const std::string& name) {
  std::string p = "/apis/coordination.k8s.io/v1/namespaces/" + url_escape(ns) + "/leases";
  if (!name.empty()) p += "/" + url_escape(name);
  return p;
}
std::string events_path(const std::string& ns, const std::string& name) {
  std::string p = "/api/v1/namespaces/" + url_escape(ns) + "/events";
  if (!name.empty()) p += "/" + url_escape(name);
  return p;
}
}  // namespace

asio::awaitable<Result<Lease>> Client::get_lease(const std::string& ns, const std::string& name) {
  auto res = co_await impl_->exchange(impl_->make_request(http::verb::get, lease_path(ns, name), {}));
  if (!res) co_return Unexpected(res.error());
  co_return lease_from_response(static_cast<int>(res->result_int()), res->body(),
                                std::string_view((*res)[http::field::retry_after]), 200);
}

asio::awaitable<Result<Lease>> Client::create_lease(const Lease& lease) {
  auto req = impl_->make_request(http::verb::post, lease_path(lease.namespace_, ""), lease_body(lease));
  auto res = co_await impl_->exchange(std::move(req));
  if (!res) co_return Unexpected(res.error());
  co_return lease_from_response(static_cast<int>(res->result_int()), res->body(),
                                std::string_view((*res)[http::field::retry_after]), 201);
}

asio::awaitable<Result<Lease>> Client::update_lease(const Lease& lease) {
  auto req =
      impl_->make_request(http::verb::put, lease_path(lease.namespace_, lease.name), lease_body(lease));
  auto res = co_await impl_->exchange(std::move(req));
  if (!res) co_return Unexpected(res.error());
  co_return lease_from_response(static_cast<int>(res->result_int()), res->body(),
                                std::string_view((*res)[http::field::retry_after]), 200);
}

asio::awaitable<Result<void>> Client::create_event(const EventRecord& event) {
  auto req =
      impl_->make_request(http::verb::post, events_path(event.namespace_, ""), event_create_body(event));
  auto res = co_await impl_->exchange(std::move(req));
  if (!res) co_return Unexpected(res.error());
  co_return event_from_response(static_cast<int>(res->result_int()), res->body(),
                                std::string_view((*res)[http::field::retry_after]), 201);
}

asio::awaitable<Result<void>> Client::patch_event(const EventRecord& event) {
  auto req = impl_->make_request(http::verb::patch, events_path(event.namespace_, event.name),
                                 event_patch_body(event), "application/strategic-merge-patch+json");
  auto res = co_await impl_->exchange(std::move(req));
  if (!res) co_return Unexpected(res.error());
  co_return event_from_response(static_cast<int>(res->result_int()), res->body(),
                                std::string_view((*res)[http::field::retry_after]), 200);
}

asio::awaitable<Result<WatchEnd>> Client::watch_csr(const std::string& name,
                                                    const std::string& resource_version,
                                                    std::chrono::seconds timeout_seconds,
                                                    std::chrono::seconds read_deadline,
                                                    std::function<bool(const WatchEvent&)> on_event) {
  // The selector is built before the co_await: GCC 12 mishandles temporaries inside one.
  const std::string selector = "metadata.name=" + name;
  auto end =
      co_await watch_csrs(selector, resource_version, timeout_seconds, read_deadline, std::move(on_event));
  co_return end;
}

asio::awaitable<Result<WatchEnd>> Client::watch_csrs(const std::string& field_selector,
                                                     const std::string& resource_version,
                                                     std::chrono::seconds timeout_seconds,
                                                     std::chrono::seconds read_deadline,
                                                     std::function<bool(const WatchEvent&)> on_event) {
  Impl& im = *impl_;
  std::string target = std::string(kCsrPath) + "?";
  if (!field_selector.empty()) target += "fieldSelector=" + url_escape(field_selector) + "&";
  if (!resource_version.empty()) target += "resourceVersion=" + url_escape(resource_version) + "&";
  target += "timeoutSeconds=" + std::to_string(timeout_seconds.count()) + "&watch=true";
  auto req = im.make_request(http::verb::get, target, {});

  // On a kept-alive connection when there is one; one the server closed meanwhile fails before
  // any byte of a response, and the watch is sent once more on a new connection.
  std::optional<Conn> conn;
  std::unique_ptr<http::response_parser<http::buffer_body>> parser;
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (int attempt = 0;; ++attempt) {
    auto made = co_await im.connect(attempt == 0);
    if (!made) co_return Unexpected(made.error());
    conn = std::move(*made);
    Stream& s = *conn->stream;
    Impl::CancelGuard attempt_guard(im, [&s] { beast::get_lowest_layer(s).close(); });
    ++im.stats.requests;
    beast::get_lowest_layer(s).expires_after(im.options.request_timeout);
    co_await http::async_write(s, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      Impl::close(*conn);
      if (conn->reused && !im.cancelled) continue;
      co_return Unexpected(im.from_ec(ec, "sending the watch to"));
    }
    buffer.clear();
    parser = std::make_unique<http::response_parser<http::buffer_body>>();
    parser->body_limit(boost::none);
    co_await http::async_read_header(s, buffer, *parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      Impl::close(*conn);
      if (conn->reused && !im.cancelled && !parser->got_some()) continue;
      co_return Unexpected(im.from_ec(ec, "reading the watch response from"));
    }
    break;
  }
  Stream& stream = *conn->stream;
  Impl::CancelGuard guard(im, [&stream] { beast::get_lowest_layer(stream).close(); });
  const int status = static_cast<int>(parser->get().result_int());

  std::array<char, 16384> chunk{};
  std::string error_body;
  WatchDecoder decoder(im.options.watch_line_limit);
  // The whole watch ends by this even when bytes keep dripping in (the server was asked to end
  // it after timeout_seconds); an error body must arrive within one request timeout.
  using Steady = std::chrono::steady_clock;
  const auto watch_end =
      Steady::now() + (status == 200
                           ? timeout_seconds + read_deadline
                           : std::chrono::duration_cast<std::chrono::seconds>(im.options.request_timeout));
  while (!parser->is_done()) {
    parser->get().body().data = chunk.data();
    parser->get().body().size = chunk.size();
    const auto left = watch_end - Steady::now();
    if (left <= Steady::duration::zero()) {
      if (status != 200) co_return Unexpected(im.from_ec(beast::error::timeout, "reading the watch from"));
      const auto bound = std::chrono::duration_cast<std::chrono::seconds>(timeout_seconds + read_deadline);
      co_return Unexpected(make_error(ErrorKind::Timeout,
                                      "the watch from " + im.endpoint.server.text + " did not end within " +
                                          std::to_string(bound.count()) + "s (asked to end after " +
                                          std::to_string(timeout_seconds.count()) + "s)"));
    }
    const Steady::duration per_read = status == 200 ? Steady::duration(read_deadline) : left;
    beast::get_lowest_layer(stream).expires_after(std::min(per_read, left));
    co_await http::async_read_some(stream, buffer, *parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      if (ec == beast::error::timeout && status == 200 && !im.cancelled && Steady::now() < watch_end)
        co_return WatchEnd::Silent;
      if (ec == beast::error::timeout && !im.cancelled) continue;  // past watch_end: reported above
      if (ec == http::error::end_of_stream && status == 200) co_return WatchEnd::ServerClosed;
      co_return Unexpected(im.from_ec(ec, "reading the watch from"));
    }
    const std::size_t n = chunk.size() - parser->get().body().size;
    if (status != 200) {
      // Enough to say what went wrong: the rest of an error body is not read.
      error_body.append(chunk.data(), std::min(n, kErrorBodyLimit - error_body.size()));
      if (error_body.size() >= kErrorBodyLimit) break;
      continue;
    }
    for (auto& ev : decoder.feed(std::string_view(chunk.data(), n))) {
      if (!ev) co_return Unexpected(ev.error());
      if (!on_event(*ev)) {
        Impl::close(*conn);
        co_return WatchEnd::ByHandler;
      }
    }
  }
  if (status != 200) {
    co_return Unexpected(
        error_from_response(status, error_body, std::string_view(parser->get()[http::field::retry_after])));
  }
  Impl::close(*conn);
  co_return WatchEnd::ServerClosed;
}

void Client::cancel() {
  impl_->cancelled = true;
  // Copy: a canceller may complete an operation whose guard then unregisters itself.
  auto fns = std::vector<std::function<void()>>(impl_->cancellers.begin(), impl_->cancellers.end());
  for (auto& fn : fns) fn();
}

Stats Client::stats() const {
  return impl_->stats;
}

}  // namespace kcd::api

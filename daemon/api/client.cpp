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
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

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

}  // namespace

struct Client::Impl {
  using Stream = beast::ssl_stream<beast::tcp_stream>;

  // One TLS connection and the context it was made with (the context must outlive it).
  struct Conn {
    std::shared_ptr<ssl::context> ctx;
    std::unique_ptr<Stream> stream;
  };

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

  Error from_ec(const boost::system::error_code& ec, std::string_view during) const {
    if (cancelled) return make_error(ErrorKind::Cancelled, "cancelled");
    if (ec == beast::error::timeout)
      return make_error(ErrorKind::Timeout,
                        std::string(during) + " timed out (" + endpoint.server.text + ")");
    return make_error(ErrorKind::Network,
                      std::string(during) + " " + endpoint.server.text + ": " + ec.message());
  }

  Expected<std::shared_ptr<ssl::context>> make_context() const {
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
      std::string cert_pem, key_pem, cert_src = "client-certificate-data", key_src = "client-key-data";
      if (credentials.client_cert_file) {
        cert_src = credentials.client_cert_file->string();
        auto read = kcd::read_file(*credentials.client_cert_file, 1 << 20);
        if (!read)
          return Unexpected(make_error(ErrorKind::Tls, "client certificate: " + read.error().message));
        cert_pem = std::move(*read);
      } else {
        cert_pem = *credentials.client_cert_pem;
      }
      if (credentials.client_key_file) {
        key_src = credentials.client_key_file->string();
        auto read = kcd::read_file(*credentials.client_key_file, 1 << 20);
        if (!read)
          return Unexpected(make_error(ErrorKind::Tls, "client certificate: " + read.error().message));
        key_pem = std::move(*read);
      } else if (credentials.client_key_pem) {
        key_pem = *credentials.client_key_pem;
      }
      auto chain = rotation::parse_certificates_pem(cert_pem, cert_src);
      if (!chain) return Unexpected(make_error(ErrorKind::Tls, chain.error().message));
      auto loaded = rotation::load_private_key_pem(key_pem, key_src);
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

  asio::awaitable<Result<Conn>> connect() {
    if (cancelled) co_return Unexpected(make_error(ErrorKind::Cancelled, "cancelled"));
    const config::ServerUrl* url = &endpoint.server;
    auto ctx = make_context();
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

  static void close(Conn& conn) {
    beast::error_code ignored;
    beast::get_lowest_layer(*conn.stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(*conn.stream).close();
  }

  // One request/response exchange on a fresh connection.
  asio::awaitable<Result<http::response<http::string_body>>> exchange(http::request<http::string_body> req) {
    auto conn = co_await connect();
    if (!conn) co_return Unexpected(conn.error());
    Stream& stream = *conn->stream;
    CancelGuard guard(*this, [&stream] { beast::get_lowest_layer(stream).close(); });
    boost::system::error_code ec;
    ++stats.requests;
    beast::get_lowest_layer(stream).expires_after(options.request_timeout);
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Unexpected(from_ec(ec, "sending the request to"));
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.body_limit);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Unexpected(from_ec(ec, "reading the response from"));
    close(*conn);
    co_return parser.release();
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

  auto conn = co_await im.connect();
  if (!conn) co_return Unexpected(conn.error());
  Impl::Stream& stream = *conn->stream;
  Impl::CancelGuard guard(im, [&stream] { beast::get_lowest_layer(stream).close(); });
  boost::system::error_code ec;
  ++im.stats.requests;
  beast::get_lowest_layer(stream).expires_after(im.options.request_timeout);
  co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Unexpected(im.from_ec(ec, "sending the watch to"));

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Unexpected(im.from_ec(ec, "reading the watch response from"));
  const int status = static_cast<int>(parser.get().result_int());

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
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
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
    co_await http::async_read_some(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      if (ec == beast::error::timeout && status == 200 && !im.cancelled && Steady::now() < watch_end)
        co_return WatchEnd::Silent;
      if (ec == beast::error::timeout && !im.cancelled) continue;  // past watch_end: reported above
      if (ec == http::error::end_of_stream && status == 200) co_return WatchEnd::ServerClosed;
      co_return Unexpected(im.from_ec(ec, "reading the watch from"));
    }
    const std::size_t n = chunk.size() - parser.get().body().size;
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
        error_from_response(status, error_body, std::string_view(parser.get()[http::field::retry_after])));
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

// Connections, requests and routes: what answers which request, and in what order it is checked.
#include "tests/devapi/http_server.hpp"

#include "rotation/key.hpp"
#include "tests/devapi/faults.hpp"
#include "tests/devapi/authority.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace kcd::devapi {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kCsrPrefix = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
constexpr std::string_view kCaAdminPath = "/devapi/v1/ca";

// The recorded apiserver's /version, byte for byte (indented, no final newline).
constexpr const char* kVersionBody = R"({
  "major": "1",
  "minor": "24",
  "gitVersion": "v1.24.0+0",
  "gitCommit": "2cc6ddc68588debdbb6806e1b57e73207505324f",
  "gitTreeState": "clean",
  "buildDate": "2022-05-06T09:44:28Z",
  "goVersion": "go1.19.8",
  "compiler": "gc",
  "platform": "linux/amd64"
})";

Query parse_query(std::string_view q) {
  Query out;
  auto unescape = [](std::string_view s) {
    std::string r;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        r += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else if (s[i] == '+') {
        r += ' ';
      } else {
        r += s[i];
      }
    }
    return r;
  };
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view kv = q.substr(0, amp);
    auto eq = kv.find('=');
    out[unescape(kv.substr(0, eq))] = eq == std::string_view::npos ? "" : unescape(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

// The name request_counts() files a request under.
std::string count_key(const Request& req, const std::string& path, bool csr_path, const std::string& rest,
                      bool is_watch) {
  if (!csr_path) return std::string(req.method_string()) + " " + path;
  if (is_watch) return "WATCH csr";
  if (rest.empty()) return req.method() == http::verb::post ? "POST csr" : "LIST csr";
  if (rest.find("/approval") != std::string::npos) return "PUT approval";
  return std::string(req.method_string()) + " csr";
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, const Options& options, const Authority& authority,
                       Faults& faults, const CsrStore& store, CsrApi& csr_api, ClusterApi& cluster_api,
                       const Authenticator& authenticator)
    : io_(io),
      options_(options),
      authority_(authority),
      faults_(faults),
      store_(store),
      csr_api_(csr_api),
      cluster_api_(cluster_api),
      authenticator_(authenticator),
      tls_(ssl::context::tls_server),
      acceptor_(io),
      watches_(io, store, faults) {}

uint16_t HttpServer::listen() {
  configure_tls();
  tcp::endpoint ep(asio::ip::make_address(options_.listen_host), options_.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  return acceptor_.local_endpoint().port();
}

void HttpServer::serve() {
  watches_.set_serving(true);
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

void HttpServer::shutdown() {
  watches_.set_serving(false);
  boost::system::error_code ec;
  acceptor_.close(ec);
  cut_connections();
}

void HttpServer::cut_connections() {
  for (auto& w : connections_) {
    if (auto s = w.lock()) beast::get_lowest_layer(*s).close();
  }
  connections_.clear();
  // A watch waiting for events only notices its closed socket once woken.
  watches_.wake_all();
}

void HttpServer::configure_tls() {
  SSL_CTX* c = tls_.native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  reissue_serving_certificate();
  // Ask for a client certificate but accept any: like kube-apiserver, an unknown or expired
  // one completes the handshake and the request then gets 401.
  tls_.set_verify_mode(ssl::verify_peer);
  tls_.set_verify_callback([](bool, ssl::verify_context&) { return true; });
  SSL_CTX_set_alpn_select_cb(
      c,
      [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
         void*) {
        static const unsigned char kHttp11[] = "\x08http/1.1";
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11 - 1, in, inlen) ==
            OPENSSL_NPN_NEGOTIATED) {
          *out = selected;
          return SSL_TLSEXT_ERR_OK;
        }
        return SSL_TLSEXT_ERR_NOACK;
      },
      nullptr);
}

void HttpServer::reissue_serving_certificate() {
  SSL_CTX* c = tls_.native_handle();
  auto server_key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
  auto server_cert = authority_.serving().issue_server(server_key.get());
  // Each connection's SSL copies these when it is made, so open connections keep the old pair.
  if (SSL_CTX_use_certificate(c, server_cert.get()) != 1 || SSL_CTX_use_PrivateKey(c, server_key.get()) != 1)
    throw std::runtime_error("devapi: cannot use the new serving certificate: " + ossl::drain_errors());
}

asio::awaitable<void> HttpServer::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor_.is_open()) co_return;
      continue;
    }
    if (faults_.refuse_connections) {
      socket.close();
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    connections_.erase(
        std::remove_if(connections_.begin(), connections_.end(), [](const auto& w) { return w.expired(); }),
        connections_.end());
    asio::co_spawn(io_, serve_connection(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::serve_connection(tcp::socket socket) {
  auto stream = std::make_shared<TlsStream>(std::move(socket), tls_);
  connections_.push_back(stream);
  boost::system::error_code ec;
  beast::get_lowest_layer(*stream).expires_after(10s);
  co_await stream->async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(4u << 20);
    beast::get_lowest_layer(*stream).expires_after(120s);
    co_await http::async_read(*stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    beast::get_lowest_layer(*stream).expires_never();
    Request req = parser.release();

    if (faults_.response_delay.count() > 0) {
      asio::steady_timer delay(io_, faults_.response_delay);
      co_await delay.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (faults_.refuse_connections) break;
    const auto who = authenticator_.authenticate(req[http::field::authorization], stream->native_handle());
    Query query;
    std::string watched = "certificatesigningrequests";
    std::optional<Reply> reply = take_injected_failure(faults_, counts_);
    if (!reply) reply = route(req, who, query, watched);
    if (options_.log_requests) {
      std::fprintf(stderr, "devapi: %s %s %d user=%s\n", std::string(req.method_string()).c_str(),
                   std::string(req.target()).c_str(), reply ? reply->status : 200,
                   who ? who->name.c_str() : "-");
    }
    if (!reply) {
      co_await watches_.serve(*stream, watched, query);
      break;
    }
    const bool keep = req.keep_alive();
    if (!co_await write_reply(*stream, *reply, keep) || !keep) break;
  }
  beast::get_lowest_layer(*stream).close();
}

std::optional<Reply> HttpServer::route(const Request& req, const std::optional<User>& who, Query& query,
                                       std::string& watched) {
  const std::string target(req.target());
  const auto qpos = target.find('?');
  const std::string path = target.substr(0, qpos);
  query = qpos == std::string::npos ? Query{} : parse_query(std::string_view(target).substr(qpos + 1));
  const bool csr_path = path.rfind(kCsrPrefix, 0) == 0;
  std::string rest = csr_path ? path.substr(kCsrPrefix.size()) : std::string();
  if (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
  const bool is_watch = csr_path && rest.empty() && req.method() == http::verb::get &&
                        (query["watch"] == "true" || query["watch"] == "1");
  ++counts_[count_key(req, path, csr_path, rest, is_watch)];

  if (!who) return status_reply(status_object(401, "Unauthorized", "Unauthorized"));
  const User& user = *who;

  if (path == "/version") {
    Reply r;
    r.body = kVersionBody;
    return r;
  }
  if (path == "/healthz" || path == "/readyz" || path == "/livez") {
    Reply r;
    r.body = "ok";
    r.content_type = "text/plain; charset=utf-8";
    r.nosniff = true;
    return r;
  }
  if (path == "/devapi/v1/faults" || path == "/devapi/v1/stats") {
    if (!is_cluster_admin(user))
      return status_reply(status_object(403, "Forbidden", "devapi control needs the admin token"));
    if (path == "/devapi/v1/faults") return faults_endpoint(req, faults_);
    Reply r;
    r.body = json{{"csrsCreated", store_.created()}, {"requests", counts_}}.dump() + "\n";
    return r;
  }
  if (path == kCaAdminPath || path.rfind(std::string(kCaAdminPath) + "/", 0) == 0) {
    if (!is_cluster_admin(user))
      return status_reply(status_object(403, "Forbidden", "devapi control needs the admin token"));
    return ca_endpoint(req, path);
  }
  if (!csr_path) {
    bool watch_nodes = false;
    if (auto r = cluster_api_.route(req, path, user, query, watch_nodes)) return r;
    if (watch_nodes) {
      watched = "nodes";
      return std::nullopt;
    }
    return status_reply(
        status_object(404, "NotFound", "the server could not find the requested resource",
                      ojson{{"causes", ojson::array({ojson{{"reason", "UnexpectedServerResponse"},
                                                           {"message", "404 page not found"}}})}}));
  }
  return route_csrs(req, rest, is_watch, user, query);
}

Reply HttpServer::ca_endpoint(const Request& req, const std::string& path) {
  const std::string step = path == kCaAdminPath ? "" : path.substr(kCaAdminPath.size() + 1);
  if (req.method() != (step.empty() ? http::verb::get : http::verb::post)) return method_not_allowed();
  if (!step.empty() && step != "add" && step != "switch-signer" && step != "switch-serving" &&
      step != "drop") {
    return status_reply(status_object(
        404, "NotFound",
        "devapi: no CA step " + go_quote(step) + " (POST one of add, switch-signer, switch-serving, drop)"));
  }
  auto summary = ca_admin_(step);
  if (!summary) return status_reply(status_object(409, "Conflict", summary.error().message));
  Reply r;
  r.body = summary->dump() + "\n";
  return r;
}

std::optional<Reply> HttpServer::route_csrs(const Request& req, const std::string& rest, bool is_watch,
                                            const User& user, const Query& query) {
  if (rest.empty()) {
    if (req.method() == http::verb::post) return csr_api_.create(req, user);
    if (req.method() == http::verb::get) {
      if (is_watch) return csr_api_.refuse_watch(user);
      return csr_api_.list(user, query);
    }
    return method_not_allowed();
  }
  const auto slash = rest.find('/');
  const std::string name = rest.substr(0, slash);
  const std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (sub == "approval" && req.method() == http::verb::put)
    return csr_api_.update_approval(user, name, req.body());
  if (!sub.empty())
    return status_reply(status_object(404, "NotFound", "the server could not find the requested resource"));
  if (req.method() == http::verb::get) return csr_api_.get(user, name);
  if (req.method() == http::verb::delete_) return csr_api_.remove(user, name);
  return method_not_allowed();
}

}  // namespace kcd::devapi

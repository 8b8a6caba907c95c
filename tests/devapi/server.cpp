// Boost.Asio 1.74's ssl headers call OpenSSL APIs that OpenSSL 3 deprecates: include them
// first, with the API level they need (see daemon/api/client.cpp).
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 10101
#include <boost/asio/ssl.hpp>

#include "tests/devapi/server.hpp"

#include "config/base64.hpp"
#include "config/rfc3339.hpp"
#include "rotation/atomic_file.hpp"
#include "rotation/certificate.hpp"
#include "rotation/csr.hpp"
#include "rotation/key.hpp"
#include "tests/devapi/auth.hpp"
#include "tests/devapi/controllers.hpp"
#include "tests/devapi/csr_api.hpp"
#include "tests/devapi/faults.hpp"
#include "tests/devapi/generated.hpp"
#include "tests/devapi/status.hpp"
#include "tests/devapi/store.hpp"
#include "tests/support/test_ca.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unistd.h>

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
// What the recorded apiserver sends in every X-Kubernetes-Pf-* header (API priority and fairness).
constexpr const char* kFlowSchemaUid = "0335b9bf-10af-47e9-a470-77ce138d6fb2";
constexpr const char* kPriorityLevelUid = "0f24fa21-7378-4774-a3c8-b852ef3cef7c";
// Go's net/http buffers this much before switching a response to chunked encoding.
constexpr std::size_t kChunkingThreshold = 2048;

std::string http_date() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
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

}  // namespace

struct Server::Impl {
  using Stream = beast::ssl_stream<beast::tcp_stream>;

  explicit Impl(Options o)
      : options(std::move(o)), ssl_ctx(ssl::context::tls_server), acceptor(io), ca(load_or_create_ca()),
        store(options.initial_resource_version, options.watch_cache_events),
        controllers(io, options, ca, faults, store),
        authenticator(options, ca, faults),
        csr_api(store, controllers) {
    store.set_event_listener([this] { wake_watchers(); });
  }

  Options options;
  asio::io_context io;
  ssl::context ssl_ctx;
  tcp::acceptor acceptor;
  std::thread thread;
  testing::TestCa ca;
  uint16_t bound_port = 0;
  bool running = false;

  // Everything below is touched only on the io thread (public methods post to it).
  Faults faults;
  CsrStore store;
  Controllers controllers;
  Authenticator authenticator;
  CsrApi csr_api;
  std::vector<std::weak_ptr<asio::steady_timer>> waiters;
  std::vector<std::weak_ptr<Stream>> sessions;
  std::map<std::string, int> counts;

  // ---- set-up ------------------------------------------------------------------------

  testing::TestCa load_or_create_ca() {
    const auto cert = options.state_dir / "ca.crt";
    const auto key = options.state_dir / "ca.key";
    std::error_code ec;
    if (fs_exists(cert) && fs_exists(key)) return testing::TestCa::load(rotation::read_file(cert), rotation::read_file(key));
    (void)ec;
    return testing::TestCa::create_root("kubernetes", KeyAlgorithm::Rsa2048);
  }

  static bool fs_exists(const std::filesystem::path& p) {
    std::error_code ec;
    return std::filesystem::exists(p, ec);
  }

  void write_state_files() {
    const auto& dir = options.state_dir;
    rotation::ensure_directory(dir, 0700);
    rotation::write_file_atomic(dir / "ca.crt", ca.cert_pem(), 0644);
    rotation::write_file_atomic(dir / "ca.key", ca.key_pem(), 0600);
    auto kubeconfig = [&](const std::string& user, const std::string& token) {
      return "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: " +
             base64_encode(ca.cert_pem()) + "\n    server: " + url() + "\n  name: devapi\ncontexts:\n- context:\n" +
             "    cluster: devapi\n    user: " + user + "\n  name: " + user + "@devapi\ncurrent-context: " + user +
             "@devapi\nusers:\n- name: " + user + "\n  user:\n    token: " + token + "\n";
    };
    rotation::write_file_atomic(dir / "bootstrap-kubelet.conf", kubeconfig("tls-bootstrap-token-user", options.bootstrap_tokens.front()), 0600);
    rotation::write_file_atomic(dir / "admin.conf", kubeconfig("kubernetes-admin", options.admin_token), 0600);
    rotation::write_file_atomic(dir / "admin.token", options.admin_token + "\n", 0600);
    json info = {{"url", url()},
                 {"port", bound_port},
                 {"caFile", (dir / "ca.crt").string()},
                 {"bootstrapKubeconfig", (dir / "bootstrap-kubelet.conf").string()},
                 {"adminKubeconfig", (dir / "admin.conf").string()},
                 {"adminTokenFile", (dir / "admin.token").string()},
                 {"pid", static_cast<long>(::getpid())}};
    rotation::write_file_atomic(dir / "devapi.json", info.dump(2) + "\n", 0644);
  }

  std::string url() const { return "https://" + options.listen_host + ":" + std::to_string(bound_port); }

  void setup_tls() {
    SSL_CTX* c = ssl_ctx.native_handle();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    auto server_key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
    auto server_cert = ca.issue_server(server_key.get());
    SSL_CTX_use_certificate(c, server_cert.get());
    SSL_CTX_use_PrivateKey(c, server_key.get());
    // Ask for a client certificate but accept any: like kube-apiserver, an unknown or expired
    // one completes the handshake and the request then gets 401.
    ssl_ctx.set_verify_mode(ssl::verify_peer);
    ssl_ctx.set_verify_callback([](bool, ssl::verify_context&) { return true; });
    SSL_CTX_set_alpn_select_cb(
        c,
        [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen, void*) {
          static const unsigned char kHttp11[] = "\x08http/1.1";
          unsigned char* selected = nullptr;
          if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11 - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
            *out = selected;
            return SSL_TLSEXT_ERR_OK;
          }
          return SSL_TLSEXT_ERR_NOACK;
        },
        nullptr);
  }

  // ---- watches ------------------------------------------------------------

  void wake_watchers() {
    std::vector<std::weak_ptr<asio::steady_timer>> alive;
    for (auto& w : waiters) {
      if (auto t = w.lock()) {
        t->cancel();
        alive.push_back(w);
      }
    }
    waiters.swap(alive);
  }

  // ---- HTTP --------------------------------------------------------------------------

  // Routes one request. Watches are answered by serve_watch instead (returns nullopt).
  std::optional<Reply> route(const http::request<http::string_body>& req, const std::optional<User>& who, bool& is_watch,
                             std::map<std::string, std::string>& query, std::string& key) {
    const std::string target(req.target());
    const auto qpos = target.find('?');
    const std::string path = target.substr(0, qpos);
    query = qpos == std::string::npos ? std::map<std::string, std::string>{} : parse_query(std::string_view(target).substr(qpos + 1));
    const bool csr_path = path.rfind(kCsrPrefix, 0) == 0;
    std::string rest = csr_path ? path.substr(kCsrPrefix.size()) : std::string();
    if (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
    is_watch = csr_path && rest.empty() && req.method() == http::verb::get &&
               (query["watch"] == "true" || query["watch"] == "1");
    if (csr_path) {
      if (is_watch) key = "WATCH csr";
      else if (rest.empty()) key = req.method() == http::verb::post ? "POST csr" : "LIST csr";
      else if (rest.find("/approval") != std::string::npos) key = "PUT approval";
      else key = std::string(req.method_string()) + " csr";
    } else {
      key = std::string(req.method_string()) + " " + path;
    }
    ++counts[key];

    if (!who) return status_reply(status_object(401, "Unauthorized", "Unauthorized"));
    const User& user = *who;

    if (path == "/version") {
      Reply r;
      r.body = R"({
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
      if (!is_cluster_admin(user)) return status_reply(status_object(403, "Forbidden", "devapi control needs the admin token"));
      if (path == "/devapi/v1/faults") return faults_endpoint(req, faults);
      Reply r;
      r.body = json{{"csrsCreated", store.created()}, {"requests", counts}}.dump() + "\n";
      return r;
    }
    if (!csr_path) {
      return status_reply(status_object(404, "NotFound", "the server could not find the requested resource",
                                        ojson{{"causes", ojson::array({ojson{{"reason", "UnexpectedServerResponse"}, {"message", "404 page not found"}}})}}));
    }
    if (rest.empty()) {
      if (req.method() == http::verb::post) return csr_api.create(req, user);
      if (req.method() == http::verb::get) {
        if (is_watch) return csr_api.refuse_watch(user);
        return csr_api.list(user, query);
      }
      return method_not_allowed();
    }
    const auto slash = rest.find('/');
    const std::string name = rest.substr(0, slash);
    const std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (sub == "approval" && req.method() == http::verb::put) return csr_api.update_approval(user, name, req.body());
    if (!sub.empty()) return status_reply(status_object(404, "NotFound", "the server could not find the requested resource"));
    if (req.method() == http::verb::get) return csr_api.get(user, name);
    if (req.method() == http::verb::delete_) return csr_api.remove(user, name);
    return method_not_allowed();
  }

  template <class Body>
  void common_headers(http::response<Body>& res, int status, const std::string& content_type, bool nosniff, bool apf) {
    res.result(static_cast<unsigned>(status));
    res.set("Audit-Id", random_uuid());
    res.set(http::field::cache_control, "no-cache, private");
    res.set(http::field::content_type, content_type);
    if (nosniff) res.set("X-Content-Type-Options", "nosniff");
    if (apf) {
      res.set("X-Kubernetes-Pf-Flowschema-Uid", kFlowSchemaUid);
      res.set("X-Kubernetes-Pf-Prioritylevel-Uid", kPriorityLevelUid);
    }
    res.set(http::field::date, http_date());
  }

  asio::awaitable<bool> write_reply(Stream& stream, const Reply& r, bool keep_alive) {
    http::response<http::string_body> res;
    res.version(11);
    common_headers(res, r.status, r.content_type, r.nosniff, r.apf_headers);
    if (r.retry_after) res.set(http::field::retry_after, std::to_string(*r.retry_after));
    res.body() = r.body;
    res.keep_alive(keep_alive);
    if (r.body.size() > kChunkingThreshold) {
      res.chunked(true);
    } else {
      res.prepare_payload();
    }
    boost::system::error_code ec;
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  asio::awaitable<void> write_chunk(Stream& stream, const std::string& data, boost::system::error_code& ec) {
    co_await asio::async_write(stream, http::make_chunk(asio::buffer(data)), asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::awaitable<void> serve_watch(Stream& stream, std::map<std::string, std::string> query) {
    const std::string only = name_selector(query);
    std::optional<std::chrono::seconds> timeout;
    if (auto t = query.find("timeoutSeconds"); t != query.end() && !t->second.empty()) timeout = std::chrono::seconds(std::stol(t->second));
    const std::string rv_param = query.count("resourceVersion") ? query["resourceVersion"] : "";

    http::response<http::empty_body> res;
    res.version(11);
    common_headers(res, 200, "application/json", false, true);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr(res);
    boost::system::error_code ec;
    co_await http::async_write_header(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;

    if (faults.drop_watches) {
      beast::get_lowest_layer(stream).close();
      co_return;
    }
    auto timer = std::make_shared<asio::steady_timer>(io);
    if (faults.silent_watches) {
      // Like an apiserver shutting down: the stream stays open and says nothing.
      waiters.push_back(timer);
      for (;;) {
        timer->expires_after(1h);
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!running || !beast::get_lowest_layer(stream).socket().is_open()) co_return;
        if (!faults.silent_watches) break;
      }
    }
    const auto& history = store.history();
    long last = store.resource_version();
    const long oldest = store.oldest_retained();
    if (faults.watch_too_old || (!rv_param.empty() && rv_param != "0" && store.compacted(std::stol(rv_param)))) {
      ojson ev = ojson::object();
      ev["type"] = "ERROR";
      ev["object"] = status_object(410, "Expired", "too old resource version: " + rv_param + " (" + std::to_string(oldest) + ")");
      co_await write_chunk(stream, ev.dump() + "\n", ec);
      if (!ec) co_await asio::async_write(stream, http::make_chunk_last(), asio::redirect_error(asio::use_awaitable, ec));
      co_return;
    }
    if (rv_param.empty() || rv_param == "0") {
      // Synthetic ADDED events for the current state, then what happens next.
      for (const auto& [name, c] : store.csrs()) {
        if (!only.empty() && name != only) continue;
        ojson ev = ojson::object();
        ev["type"] = "ADDED";
        ev["object"] = c.to_json();
        co_await write_chunk(stream, ev.dump() + "\n", ec);
        if (ec) co_return;
      }
    } else {
      last = std::stol(rv_param);
    }
    const auto deadline = timeout ? std::chrono::steady_clock::now() + *timeout : std::chrono::steady_clock::time_point::max();
    waiters.push_back(timer);
    while (running) {
      std::vector<std::string> lines;
      for (const auto& ev : history) {
        if (ev.rv > last && (only.empty() || ev.name == only)) lines.push_back(ev.line);
      }
      if (!history.empty()) last = std::max(last, history.back().rv);
      for (const auto& line : lines) {
        co_await write_chunk(stream, line, ec);
        if (ec) co_return;
      }
      if (faults.refuse_connections) co_return;
      // Events emitted while we were writing: no wake-up reached us (we were not waiting yet).
      if (!history.empty() && history.back().rv > last) continue;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      timer->expires_after(std::min<std::chrono::steady_clock::duration>(deadline - now, 1h));
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!beast::get_lowest_layer(stream).socket().is_open()) co_return;
      // Cancelled = woken by a new event (re-register: wake_watchers keeps live timers).
    }
    co_await asio::async_write(stream, http::make_chunk_last(), asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::awaitable<void> session(tcp::socket socket) {
    auto stream = std::make_shared<Stream>(std::move(socket), ssl_ctx);
    sessions.push_back(stream);
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
      http::request<http::string_body> req = parser.release();

      if (faults.response_delay.count() > 0) {
        asio::steady_timer delay(io, faults.response_delay);
        co_await delay.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      if (faults.refuse_connections) break;
      const auto who = authenticator.authenticate(req[http::field::authorization], stream->native_handle());
      bool is_watch = false;
      std::map<std::string, std::string> query;
      std::string key;
      std::optional<Reply> reply = take_injected_failure(faults, counts);
      if (!reply) reply = route(req, who, is_watch, query, key);
      if (options.log_requests) {
        std::fprintf(stderr, "devapi: %s %s %d user=%s\n", std::string(req.method_string()).c_str(),
                     std::string(req.target()).c_str(), reply ? reply->status : 200, who ? who->name.c_str() : "-");
      }
      if (!reply) {
        co_await serve_watch(*stream, query);
        break;
      }
      const bool keep = req.keep_alive();
      if (!co_await write_reply(*stream, *reply, keep) || !keep) break;
    }
    beast::get_lowest_layer(*stream).close();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!acceptor.is_open()) co_return;
        continue;
      }
      if (faults.refuse_connections) {
        socket.close();
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      sessions.erase(std::remove_if(sessions.begin(), sessions.end(), [](const auto& w) { return w.expired(); }),
                     sessions.end());
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }

  void cut_sessions() {
    for (auto& w : sessions) {
      if (auto s = w.lock()) beast::get_lowest_layer(*s).close();
    }
    sessions.clear();
    wake_watchers();
  }

  // Runs fn on the io thread and waits for its result.
  template <class F>
  auto on_io(F&& fn) -> decltype(fn()) {
    using R = decltype(fn());
    if (!running) return fn();
    std::packaged_task<R()> task(std::forward<F>(fn));
    auto fut = task.get_future();
    asio::post(io, [&task] { task(); });
    return fut.get();
  }
};

Server::Server(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  auto& o = impl_->options;
  if (o.bootstrap_tokens.empty()) o.bootstrap_tokens.push_back(random_bootstrap_token());
  if (o.admin_token.empty()) o.admin_token = random_bootstrap_token() + random_bootstrap_token();
}

Server::~Server() { stop(); }

void Server::start() {
  Impl& im = *impl_;
  im.setup_tls();
  tcp::endpoint ep(asio::ip::make_address(im.options.listen_host), im.options.port);
  im.acceptor.open(ep.protocol());
  im.acceptor.set_option(tcp::acceptor::reuse_address(true));
  im.acceptor.bind(ep);
  im.acceptor.listen();
  im.bound_port = im.acceptor.local_endpoint().port();
  if (!im.options.state_dir.empty()) im.write_state_files();
  im.running = true;
  asio::co_spawn(im.io, im.accept_loop(), asio::detached);
  im.thread = std::thread([&im] { im.io.run(); });
}

void Server::stop() {
  Impl& im = *impl_;
  if (!im.running) return;
  asio::post(im.io, [&im] {
    im.running = false;
    boost::system::error_code ec;
    im.acceptor.close(ec);
    im.cut_sessions();
    im.io.stop();
  });
  if (im.thread.joinable()) im.thread.join();
  im.running = false;
}

uint16_t Server::port() const { return impl_->bound_port; }
std::string Server::url() const { return impl_->url(); }
std::string Server::ca_pem() const { return impl_->ca.cert_pem(); }
std::string Server::ca_key_pem() const { return impl_->ca.key_pem(); }
std::string Server::bootstrap_token() const { return impl_->options.bootstrap_tokens.front(); }
std::string Server::admin_token() const { return impl_->options.admin_token; }
std::filesystem::path Server::bootstrap_kubeconfig_path() const { return impl_->options.state_dir / "bootstrap-kubelet.conf"; }

Faults Server::faults() const { return impl_->on_io([this] { return impl_->faults; }); }

void Server::set_faults(const Faults& f) {
  impl_->on_io([this, f] {
    const bool cut = f.refuse_connections && !impl_->faults.refuse_connections;
    const bool wake = impl_->faults.silent_watches && !f.silent_watches;
    impl_->faults = f;
    if (cut) impl_->cut_sessions();
    if (wake) impl_->wake_watchers();
    return 0;
  });
}

std::vector<json> Server::list_csrs() const {
  return impl_->on_io([this] {
    std::vector<json> out;
    for (const auto& [name, c] : impl_->store.csrs()) out.push_back(json::parse(c.to_json().dump()));
    return out;
  });
}

int Server::csrs_created() const { return impl_->on_io([this] { return impl_->store.created(); }); }

std::map<std::string, int> Server::request_counts() const { return impl_->on_io([this] { return impl_->counts; }); }

void Server::approve(const std::string& name, bool approve) {
  impl_->on_io([this, name, approve] {
    impl_->controllers.decide(name, approve, approve ? "KubectlApprove" : "KubectlDeny",
                              approve ? "This CSR was approved by kubectl certificate approve."
                                      : "This CSR was denied by kubectl certificate deny.");
    return 0;
  });
}

void Server::delete_csr(const std::string& name) {
  impl_->on_io([this, name] {
    impl_->store.remove(name);
    return 0;
  });
}

}  // namespace kcd::devapi

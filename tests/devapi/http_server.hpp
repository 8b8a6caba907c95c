// devapi's HTTPS front: TLS set up as kube-apiserver's, connections and their requests, the
// per-request faults, and the routes to the CSR API, the nodes/leases/events API, the watch streams and
// devapi's own endpoints (/version, health, /devapi/v1/faults, /devapi/v1/stats and /devapi/v1/ca).
#pragma once

#include "tests/devapi/wire.hpp"

#include "base/expected.hpp"
#include "tests/devapi/auth.hpp"
#include "tests/devapi/cluster_api.hpp"
#include "tests/devapi/csr_api.hpp"
#include "tests/devapi/server.hpp"
#include "tests/devapi/status.hpp"
#include "tests/devapi/store.hpp"
#include "tests/devapi/watch.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kcd::devapi {

class Authority;

// GET /devapi/v1/ca (step empty) or POST /devapi/v1/ca/<step>: the summary to answer with, or
// the error that refused the step.
using CaAdminHandler = std::function<Expected<nlohmann::json>(const std::string& step)>;

// listen() and serve() run before the io thread starts; everything else on it.
class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const Options& options, const Authority& authority, Faults& faults,
             const CsrStore& store, CsrApi& csr_api, ClusterApi& cluster_api,
             const Authenticator& authenticator);

  // TLS with a fresh server certificate from the serving CA, then bind and listen; the bound port.
  uint16_t listen();
  // A new key and serving certificate from the authority's serving CA: new connections get
  // it, open ones keep theirs.
  void reissue_serving_certificate();
  void set_ca_admin_handler(CaAdminHandler handler) { ca_admin_ = std::move(handler); }
  // Accepts connections once the io context runs.
  void serve();
  // Stops accepting, ends the watches and cuts every connection.
  void shutdown();
  // Closes every open connection (the refuse_connections fault: "API server down").
  void cut_connections();
  void wake_watches() { watches_.wake_all(); }

  const std::map<std::string, int>& request_counts() const { return counts_; }

 private:
  void configure_tls();
  Reply ca_endpoint(const Request& req, const std::string& path);
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve_connection(boost::asio::ip::tcp::socket socket);
  // One request's reply; nullopt for a watch of `watched`, to be streamed with `query`.
  std::optional<Reply> route(const Request& req, const std::optional<User>& who, Query& query,
                             std::string& watched);
  std::optional<Reply> route_csrs(const Request& req, const std::string& rest, bool is_watch,
                                  const User& user, const Query& query);

  boost::asio::io_context& io_;
  const Options& options_;
  const Authority& authority_;
  CaAdminHandler ca_admin_;
  Faults& faults_;
  const CsrStore& store_;
  CsrApi& csr_api_;
  ClusterApi& cluster_api_;
  const Authenticator& authenticator_;
  boost::asio::ssl::context tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  WatchStreams watches_;
  std::vector<std::weak_ptr<TlsStream>> connections_;
  std::map<std::string, int> counts_;  // "POST csr", "WATCH csr", "GET /version", "fault 5xx", ...
};

}  // namespace kcd::devapi

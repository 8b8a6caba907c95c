// The one place that talks to the kube-apiserver: HTTPS (Boost.Beast over Asio + OpenSSL,
// TLS 1.2+, server verified against the cluster CA incl. host name/IP), bearer token or
// client certificate, a deadline on every operation, Kubernetes errors as typed values.
#pragma once

#include "daemon/api/cluster_types.hpp"
#include "daemon/api/csr_api.hpp"
#include "daemon/api/types.hpp"
#include "daemon/resolve.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kcd::api {

// Idle connections kept for the next request to the same server with the same CA and
// credentials (HTTP/1.1 keep-alive): a bootstrap's POST and WATCH share one TLS handshake. Owned
// by whoever makes the clients (one per process); it lives on, and must be destroyed before, the
// io_context its clients use. Idle connections are closed after kIdleConnectionTimeout.
class ConnectionCache;
std::shared_ptr<ConnectionCache> make_connection_cache(boost::asio::io_context& io);
// Closes the idle connections and keeps none from now on (a stopping agent: the loop must not
// wait for an idle timer).
void close_connection_cache(ConnectionCache& cache);
inline constexpr std::chrono::seconds kIdleConnectionTimeout{5};
// At most this many idle connections are kept (one per certificate's request in flight).
inline constexpr std::size_t kMaxIdleConnections = 2;

struct Options {
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds request_timeout{30};
  std::string user_agent = std::string("kubelet-certd/") + KCD_VERSION;
  std::size_t body_limit = kResponseBodyLimit;
  // The addresses of the API server's host (getaddrinfo; tests pass one that hangs). Blocking:
  // called off the loop, bounded by connect_timeout.
  std::function<Expected<std::vector<std::string>>(const std::string& host)> lookup =
      daemon::lookup_addresses;
  std::size_t watch_line_limit = kMaxWatchLine;  // one watch event
  // Null: a fresh connection for every request, closed after it.
  std::shared_ptr<ConnectionCache> connections;
};

struct Stats {
  int requests = 0;
  int connections = 0;  // new TCP connections (a reused one is not counted again)
  int reused = 0;       // requests sent on a kept-alive connection
};

class Client final : public CsrApi {
 public:
  Client(boost::asio::io_context& io, Endpoint endpoint, Credentials credentials, Options options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  boost::asio::awaitable<Result<Csr>> create_csr(const CsrCreate& request) override;
  boost::asio::awaitable<Result<Csr>> get_csr(const std::string& name) override;
  boost::asio::awaitable<Result<WatchEnd>> watch_csr(
      const std::string& name, const std::string& resource_version, std::chrono::seconds timeout_seconds,
      std::chrono::seconds read_deadline, std::function<bool(const WatchEvent&)> on_event) override;
  // Every CSR matching `field_selector` ("" for all, "spec.signerName=..."), and the list's
  // resourceVersion to watch from.
  // Read in pages of `page_size` (limit/continue), as client-go's pager does.
  boost::asio::awaitable<Result<CsrList>> list_csrs(const std::string& field_selector,
                                                    int page_size = kListPageSize);
  // watch_csr for every CSR matching `field_selector`, from `resource_version`.
  boost::asio::awaitable<Result<WatchEnd>> watch_csrs(const std::string& field_selector,
                                                      const std::string& resource_version,
                                                      std::chrono::seconds timeout_seconds,
                                                      std::chrono::seconds read_deadline,
                                                      std::function<bool(const WatchEvent&)> on_event);
  // Appends `condition` (Approved or Denied) to `csr` as read: PUT .../approval. 409 when the
  // CSR changed since (someone else decided), 403 without the signer permission.
  boost::asio::awaitable<Result<Csr>> update_approval(const Csr& csr, const CsrCondition& condition);
  // GET a Node (404: NotFound).
  boost::asio::awaitable<Result<Node>> get_node(const std::string& name) override;
  boost::asio::awaitable<Result<ConfigMap>> get_config_map(const std::string& ns,
                                                           const std::string& name) override;
  // A Lease: GET (404: NotFound), create (409 AlreadyExists when someone was first), update with
  // the resourceVersion read (409 Conflict when it is stale).
  boost::asio::awaitable<Result<Lease>> get_lease(const std::string& ns, const std::string& name);
  boost::asio::awaitable<Result<Lease>> create_lease(const Lease& lease);
  boost::asio::awaitable<Result<Lease>> update_lease(const Lease& lease);
  // A core/v1 Event: create it, or patch a repeat (count, lastTimestamp, message).
  boost::asio::awaitable<Result<void>> create_event(const EventRecord& event) override;
  boost::asio::awaitable<Result<void>> patch_event(const EventRecord& event) override;
  // Aborts every operation in flight (their sockets are closed); they return Cancelled.
  void cancel() override;
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kcd::api

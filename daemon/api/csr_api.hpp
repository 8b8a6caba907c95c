// What the agent needs from the API server, as an interface: its CSRs (create, get, watch), its
// own Node (the serving pre-check) and Events about that Node. api::Client implements it over
// HTTPS, tests implement it in process.
#pragma once

#include "daemon/api/cluster_types.hpp"
#include "daemon/api/types.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace kcd::api {

enum class WatchEnd {
  ByHandler,     // the handler returned false
  ServerClosed,  // the server ended the stream (timeoutSeconds, shutdown)
  Silent,        // nothing arrived within the read deadline: a dead stream
};

class CsrApi {
 public:
  virtual ~CsrApi() = default;

  virtual boost::asio::awaitable<Result<Csr>> create_csr(const CsrCreate& request) = 0;
  virtual boost::asio::awaitable<Result<Csr>> get_csr(const std::string& name) = 0;
  // Watches one CSR (fieldSelector on its name) from `resource_version` ("" = current state
  // first). on_event sees every event until it returns false. `read_deadline` is the longest
  // silence tolerated between bytes.
  virtual boost::asio::awaitable<Result<WatchEnd>> watch_csr(
      const std::string& name, const std::string& resource_version, std::chrono::seconds timeout_seconds,
      std::chrono::seconds read_deadline, std::function<bool(const WatchEvent&)> on_event) = 0;
  // GET a Node (404: NotFound).
  virtual boost::asio::awaitable<Result<Node>> get_node(const std::string& name) = 0;
  // GET a ConfigMap (kube-public/cluster-info, read anonymously: 404 NotFound, 403 Forbidden).
  virtual boost::asio::awaitable<Result<ConfigMap>> get_config_map(const std::string& ns,
                                                                   const std::string& name) = 0;
  // A core/v1 Event: create it, or patch a repeat (count, lastTimestamp, message).
  virtual boost::asio::awaitable<Result<void>> create_event(const EventRecord& event) = 0;
  virtual boost::asio::awaitable<Result<void>> patch_event(const EventRecord& event) = 0;
  // Aborts every operation in flight; they return Cancelled.
  virtual void cancel() = 0;
};

// Opens the CSR API at `endpoint` with `credentials` (client-go's ClientsetFn). The agent asks
// for every request, because the credential changes (bootstrap token -> node certificate).
using CsrApiFactory =
    std::function<std::unique_ptr<CsrApi>(const Endpoint& endpoint, const Credentials& credentials)>;

}  // namespace kcd::api

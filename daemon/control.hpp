// The local control socket (<certDir>/kubelet-certd.sock): `kubelet-certd renew` and `status`
// talk to a running daemon through it. One JSON request line, one JSON reply line; only root
// (or the daemon's own user) may connect.
#pragma once

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace kcd::daemon {

inline constexpr std::string_view kControlSocketName = "kubelet-certd.sock";

class ControlServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;
  // Binds <dir>/kubelet-certd.sock (0600; a stale socket file is replaced: the caller holds
  // the instance lock). Throws std::runtime_error naming the path on failure.
  ControlServer(boost::asio::io_context& io, const std::filesystem::path& dir, Handler handler);
  ~ControlServer();
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sends one request to the daemon. nullopt when no daemon listens there (no socket, or
// connection refused); an error reply is returned as {"error": "..."}.
std::optional<nlohmann::json> control_request(const std::filesystem::path& dir, const nlohmann::json& request,
                                              std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace kcd::daemon

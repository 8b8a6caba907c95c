// The local control socket (<certDir>/kubelet-certd.sock): `kubelet-certd renew` and `status`
// talk to a running daemon through it, one request line and one reply line
// (daemon/control_protocol.hpp); only root (or the daemon's own user) may connect.
#pragma once

#include "base/expected.hpp"
#include "daemon/control_protocol.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kcd::daemon {

inline constexpr std::string_view kControlSocketName = "kubelet-certd.sock";

struct ListenerLimits;
// Connections the control socket holds at once, and how long each may stay (daemon/listener.hpp).
extern const ListenerLimits kControlLimits;

class ControlServer {
 public:
  // Called on the loop for every well-formed request; a malformed one is answered with an
  // ErrorReply without reaching it.
  using Handler = std::function<ControlReply(const ControlRequest& request)>;

  // Binds <dir>/kubelet-certd.sock (0600; a stale socket file is replaced: the caller holds
  // the instance lock) and serves on `io`. The error names the path.
  static Expected<std::unique_ptr<ControlServer>> open(boost::asio::io_context& io,
                                                       const std::filesystem::path& dir, Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  // Stops accepting and removes the socket file.
  void close();

 private:
  struct Listener;
  explicit ControlServer(std::unique_ptr<Listener> listener);
  std::unique_ptr<Listener> listener_;
};

// The client's side. nullopt when no daemon listens there (no socket, or connection refused);
// an error when one does but the exchange fails (cannot connect or write, no reply in time),
// when it refuses the request (its message), or when its reply is malformed.
Expected<std::optional<StatusReply>> request_status(
    const std::filesystem::path& dir, std::chrono::milliseconds timeout = std::chrono::seconds(5));
Expected<std::optional<RenewReply>> request_renewal(
    const std::filesystem::path& dir, const std::vector<rotation::CertKind>& certs,
    std::chrono::milliseconds timeout = std::chrono::seconds(5));

// One request line out, one reply line back (without its newline); nullopt when no daemon
// listens. The typed functions above are built on it; tests use it to speak raw lines.
Expected<std::optional<std::string>> control_exchange(const std::filesystem::path& dir,
                                                      const std::string& line,
                                                      std::chrono::milliseconds timeout);

}  // namespace kcd::daemon

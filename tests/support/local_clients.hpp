// Local clients of the daemon's listeners for tests: a free loopback port, a plain HTTP GET,
// and a flood of idle connections (opened, never written to) to a TCP port or a Unix socket.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace kcd::testing {

// A port on 127.0.0.1 that was free a moment ago.
int free_port();

// GET `path` on 127.0.0.1:port with HTTP/1.1, Connection: close; the raw response ("" when
// nothing answers within `timeout`).
std::string http_get(int port, const std::string& path,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Client sockets opened and held without sending anything; closed on destruction.
class IdleClients {
 public:
  IdleClients() = default;
  ~IdleClients();
  IdleClients(const IdleClients&) = delete;
  IdleClients& operator=(const IdleClients&) = delete;
  // Connects `n` more; false (after recording what failed in error()) when one cannot.
  bool tcp(int port, int n);
  bool unix_socket(const std::filesystem::path& path, int n);
  // How many the other side has closed (EOF readable); waits up to `first_wait` for the first.
  std::size_t closed_by_peer(std::chrono::milliseconds first_wait = std::chrono::seconds(2)) const;
  std::size_t size() const { return fds_.size(); }
  const std::string& error() const { return error_; }
  void close_all();

 private:
  std::vector<int> fds_;
  std::string error_;
};

}  // namespace kcd::testing

#include "tests/support/local_clients.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kcd::testing {

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = loopback(0);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string http_get(int port, const std::string& path, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in addr = loopback(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return {};
  }
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

IdleClients::~IdleClients() {
  close_all();
}

void IdleClients::close_all() {
  for (int fd : fds_) ::close(fd);
  fds_.clear();
}

bool IdleClients::tcp(int port, int n) {
  const sockaddr_in addr = loopback(port);
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      error_ = "connection " + std::to_string(i) + " to port " + std::to_string(port) + ": " +
               std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    fds_.push_back(fd);
  }
  return true;
}

bool IdleClients::unix_socket(const std::filesystem::path& path, int n) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.string().copy(addr.sun_path, sizeof addr.sun_path - 1);
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      error_ = "connection " + std::to_string(i) + " to " + path.string() + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    fds_.push_back(fd);
  }
  return true;
}

std::size_t IdleClients::closed_by_peer(std::chrono::milliseconds first_wait) const {
  std::size_t n = 0;
  bool waited = false;
  for (int fd : fds_) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, waited ? 0 : static_cast<int>(first_wait.count()));
    waited = true;
    char c;
    if (ready == 1 && ::recv(fd, &c, 1, MSG_DONTWAIT) == 0) ++n;
  }
  return n;
}

}  // namespace kcd::testing

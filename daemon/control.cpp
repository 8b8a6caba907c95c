#include "daemon/control.hpp"

#include "systemd/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <istream>

namespace kcd::daemon {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

struct ControlServer::Impl {
  Impl(asio::io_context& io, std::filesystem::path p, Handler h)
      : acceptor(io), path(std::move(p)), handler(std::move(h)) {}
  local::acceptor acceptor;
  std::filesystem::path path;
  Handler handler;
  bool closed = false;

  asio::awaitable<void> serve(local::socket socket) {
    // Only root or our own user: the socket file is 0600 too, this is the second lock.
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        (cred.uid != 0 && cred.uid != ::geteuid())) {
      log::warn("control connection refused", {{"uid", static_cast<long>(cred.uid)}});
      co_return;
    }
    boost::system::error_code ec;
    asio::streambuf buf(64 * 1024);
    co_await asio::async_read_until(socket, buf, '\n', asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::istream in(&buf);
    std::string line;
    std::getline(in, line);
    nlohmann::json reply;
    nlohmann::json request = nlohmann::json::parse(line, nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
      reply = {{"error", "request is not a JSON object"}};
    } else {
      reply = handler(request);
    }
    const std::string out = reply.dump() + "\n";
    co_await asio::async_write(socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::awaitable<void> accept_loop() {
    while (!closed) {
      boost::system::error_code ec;
      local::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!acceptor.is_open()) co_return;
        continue;
      }
      asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
    }
  }
};

ControlServer::ControlServer(asio::io_context& io, const std::filesystem::path& dir, Handler handler)
    : impl_(std::make_unique<Impl>(io, dir / kControlSocketName, std::move(handler))) {
  ::unlink(impl_->path.c_str());
  boost::system::error_code ec;
  const mode_t old = ::umask(0177);
  impl_->acceptor.open(local(), ec);
  if (!ec) impl_->acceptor.bind(local::endpoint(impl_->path.string()), ec);
  ::umask(old);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("control socket " + impl_->path.string() + ": " + ec.message());
  ::chmod(impl_->path.c_str(), 0600);
  asio::co_spawn(io, impl_->accept_loop(), asio::detached);
}

ControlServer::~ControlServer() {
  close();
}

void ControlServer::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  ::unlink(impl_->path.c_str());
}

std::optional<nlohmann::json> control_request(const std::filesystem::path& dir, const nlohmann::json& request,
                                              std::chrono::milliseconds timeout) {
  const std::string path = (dir / kControlSocketName).string();
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path)
    return nlohmann::json{{"error", "control socket path too long: " + path}};
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nlohmann::json{{"error", std::string("socket: ") + std::strerror(errno)}};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) return std::nullopt;
    return nlohmann::json{{"error", "cannot connect to " + path + ": " + std::strerror(err)}};
  }
  const std::string out = request.dump() + "\n";
  if (::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
    ::close(fd);
    return nlohmann::json{{"error", "cannot write to " + path}};
  }
  std::string reply;
  const auto until = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto j = nlohmann::json::parse(reply.substr(0, reply.find('\n')), nullptr, false);
  if (j.is_discarded()) return nlohmann::json{{"error", "no reply from the daemon on " + path}};
  return j;
}

}  // namespace kcd::daemon

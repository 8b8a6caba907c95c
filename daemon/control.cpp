#include "daemon/control.hpp"

#include "daemon/accept_backoff.hpp"

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

// The listening socket and its accept loop; each connection is one request and one reply.
struct ControlServer::Listener {
  Listener(asio::io_context& io, std::filesystem::path p, Handler h)
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
    auto request = parse_request(line);
    const ControlReply reply =
        request ? handler(*request) : ControlReply(ErrorReply{request.error().message});
    const std::string out = to_line(reply) + "\n";
    co_await asio::async_write(socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::awaitable<void> accept_loop() {
    rotation::Backoff backoff = accept_backoff();
    while (!closed) {
      boost::system::error_code ec;
      local::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!acceptor.is_open()) co_return;
        co_await pause_after_accept_error(backoff);
        continue;
      }
      backoff.reset();
      asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
    }
  }
};

ControlServer::ControlServer(std::unique_ptr<Listener> listener) : listener_(std::move(listener)) {}

Expected<std::unique_ptr<ControlServer>> ControlServer::open(asio::io_context& io,
                                                             const std::filesystem::path& dir,
                                                             Handler handler) {
  auto listener = std::make_unique<Listener>(io, dir / kControlSocketName, std::move(handler));
  const std::string path = listener->path.string();
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return Unexpected(make_error(ErrorKind::Config,
                                 "the path is too long for a socket (at most " +
                                     std::to_string(sizeof addr.sun_path - 1) +
                                     " bytes); use a shorter certDir",
                                 Location{path, 0, 0, ""}));
  }
  ::unlink(path.c_str());
  boost::system::error_code ec;
  const mode_t old = ::umask(0177);
  listener->acceptor.open(local(), ec);
  if (!ec) listener->acceptor.bind(local::endpoint(path), ec);
  ::umask(old);
  if (!ec) listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    Error e = io_error("control socket", path, ec.value());
    e.message = "control socket " + path + ": " + ec.message();
    return Unexpected(std::move(e));
  }
  ::chmod(path.c_str(), 0600);
  asio::co_spawn(io, listener->accept_loop(), asio::detached);
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(listener)));
}

ControlServer::~ControlServer() {
  close();
}

void ControlServer::close() {
  if (listener_->closed) return;
  listener_->closed = true;
  boost::system::error_code ec;
  listener_->acceptor.close(ec);
  ::unlink(listener_->path.c_str());
}

Expected<std::optional<std::string>> control_exchange(const std::filesystem::path& dir,
                                                      const std::string& line,
                                                      std::chrono::milliseconds timeout) {
  const std::string path = (dir / kControlSocketName).string();
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return Unexpected(make_error(ErrorKind::Config,
                                 "the path is too long for a socket; use a shorter certDir",
                                 Location{path, 0, 0, ""}));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected(io_error("socket", path, errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ECONNREFUSED) return std::optional<std::string>();
    return Unexpected(io_error("cannot connect to", path, err));
  }
  const std::string out = line + "\n";
  if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size()))
    return Unexpected(io_error("cannot write to", path, errno));
  std::string reply;
  const auto until = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return Unexpected(make_error(
          ErrorKind::Timeout, "no reply from the daemon within " + std::to_string(timeout.count()) + " ms",
          Location{path, 0, 0, ""}));
    }
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) return Unexpected(io_error("cannot read from", path, errno));
    if (n == 0) break;  // closed: what came so far is the reply (parsing says if it is one)
    reply.append(buf, static_cast<std::size_t>(n));
  }
  return std::optional<std::string>(reply.substr(0, reply.find('\n')));
}

namespace {

// Sends `request` and parses the reply with `parse`.
template <class Reply, class Parse>
Expected<std::optional<Reply>> ask(const std::filesystem::path& dir, const ControlRequest& request,
                                   std::chrono::milliseconds timeout, Parse parse) {
  auto line = control_exchange(dir, to_line(request), timeout);
  if (!line) return Unexpected(std::move(line).error());
  if (!*line) return std::optional<Reply>();
  auto reply = parse(**line, (dir / kControlSocketName).string());
  if (!reply) return Unexpected(std::move(reply).error());
  return std::optional<Reply>(std::move(*reply));
}

}  // namespace

Expected<std::optional<StatusReply>> request_status(const std::filesystem::path& dir,
                                                    std::chrono::milliseconds timeout) {
  return ask<StatusReply>(dir, ControlRequest{ControlCommand::Status, {}}, timeout, parse_status_reply);
}

Expected<std::optional<RenewReply>> request_renewal(const std::filesystem::path& dir,
                                                    const std::vector<rotation::CertKind>& certs,
                                                    std::chrono::milliseconds timeout) {
  return ask<RenewReply>(dir, ControlRequest{ControlCommand::Renew, certs}, timeout, parse_renew_reply);
}

}  // namespace kcd::daemon

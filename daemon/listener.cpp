#include "daemon/listener.hpp"

#include "systemd/log.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace kcd::daemon {

bool out_of_resources(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

ReserveFd::ReserveFd() : fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}

ReserveFd::~ReserveFd() {
  if (fd_ >= 0) ::close(fd_);
}

bool ReserveFd::shed_one(int listen_fd) {
  if (fd_ >= 0) ::close(fd_);
  const int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (c >= 0) ::close(c);
  fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return c >= 0;
}

void log_accept_exhausted(const std::string& what, const boost::system::error_code& ec, bool first) {
  log::event(first ? spdlog::level::err : spdlog::level::debug, "cannot accept connections, backing off",
             {{"listener", what},
              {"error", ec.message()},
              {"hint",
               "too many open connections or files; raise LimitNOFILE= or find the local process that holds "
               "them"}});
}

}  // namespace kcd::daemon

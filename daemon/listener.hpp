// What a local client can hold of one of the daemon's listeners (the metrics endpoint, the
// control socket): a bounded number of connections, each with a deadline, and an accept loop
// that backs off instead of spinning when the process is out of file descriptors.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <string>

namespace kcd::daemon {

struct ListenerLimits {
  // Connections open at once. At the cap, the oldest connection that has not sent its request
  // is closed to make room: a flood of idle connections cannot lock out a real client.
  std::size_t max_connections = 32;
  // From accept to the last byte of the answer; a connection still open then is closed.
  std::chrono::milliseconds connection_timeout{std::chrono::seconds(5)};
  // The pause after accept() failed for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
  // ENOMEM): the pending connection is shed, the oldest idle one closed, and accepting resumes.
  std::chrono::milliseconds accept_backoff{std::chrono::milliseconds(250)};
};

// accept() failed for want of descriptors or memory: retrying at once would fail the same way.
bool out_of_resources(const boost::system::error_code& ec);

// One descriptor held back (/dev/null) so that a listener out of descriptors can still accept a
// pending connection and close it at once, instead of leaving it in the backlog where it wakes
// the loop again and again.
class ReserveFd {
 public:
  ReserveFd();
  ~ReserveFd();
  ReserveFd(const ReserveFd&) = delete;
  ReserveFd& operator=(const ReserveFd&) = delete;
  // Gives the reserve up, accepts one pending connection on `listen_fd` and closes it, then
  // takes the reserve again. True when a connection was shed.
  bool shed_one(int listen_fd);

 private:
  int fd_ = -1;
};

// The open connections of one listener, oldest first.
template <class Socket>
class ConnectionTable {
 public:
  struct Connection {
    explicit Connection(Socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}
    Socket socket;
    boost::asio::steady_timer deadline;
    bool answering = false;  // its request was read: no longer evicted for a newcomer
  };
  using Handle = std::shared_ptr<Connection>;

  explicit ConnectionTable(ListenerLimits limits) : limits_(limits) {}
  const ListenerLimits& limits() const { return limits_; }
  std::size_t size() const { return open_.size(); }

  // Takes a fresh connection in: closes the oldest idle one when at the cap (nullptr, and the
  // newcomer closed, when every one is busy answering), and arms its deadline.
  Handle admit(Socket socket) {
    if (open_.size() >= limits_.max_connections && !close_oldest_idle()) {
      boost::system::error_code ec;
      socket.close(ec);
      return nullptr;
    }
    auto c = std::make_shared<Connection>(std::move(socket));
    open_.push_back(c);
    c->deadline.expires_after(limits_.connection_timeout);
    c->deadline.async_wait([weak = std::weak_ptr<Connection>(c)](boost::system::error_code ec) {
      if (ec) return;
      if (auto alive = weak.lock()) alive->socket.close(ec);
    });
    return c;
  }

  // The connection is done: closed and forgotten.
  void release(const Handle& c) {
    boost::system::error_code ec;
    c->deadline.cancel();
    c->socket.close(ec);
    open_.remove(c);
  }

  // Closes the oldest connection still waiting for its request; false when there is none.
  bool close_oldest_idle() {
    for (auto it = open_.begin(); it != open_.end(); ++it) {
      if ((*it)->answering) continue;
      Handle c = *it;
      release(c);
      return true;
    }
    return false;
  }

  // Closes every connection (a stopping daemon answers no more requests).
  void close_all() {
    while (!open_.empty()) release(open_.front());
  }

 private:
  ListenerLimits limits_;
  std::list<Handle> open_;
};

// Logs an accept() that failed for want of resources (an error the first time in a row, then debug).
void log_accept_exhausted(const std::string& what, const boost::system::error_code& ec, bool first);

// The accept loop both listeners share: admits each connection into `table` and spawns
// `serve(handle)` for it; after a failure for want of resources it sheds a pending
// connection, closes the oldest idle one and waits `accept_backoff` (logged once per episode
// as `what`, taken by value: the coroutine outlives its caller's temporaries). Ends when the
// acceptor is closed.

template <class Acceptor, class Serve>
boost::asio::awaitable<void> accept_connections(
    Acceptor& acceptor, ConnectionTable<typename Acceptor::protocol_type::socket>& table, ReserveFd& reserve,
    std::string what, Serve serve) {
  namespace asio = boost::asio;
  bool exhausted = false;
  for (;;) {
    boost::system::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (!acceptor.is_open()) co_return;
    if (ec) {
      if (!out_of_resources(ec)) continue;  // the peer gave up before we accepted: nothing to wait for
      log_accept_exhausted(what, ec, !exhausted);
      exhausted = true;
      table.close_oldest_idle();
      reserve.shed_one(acceptor.native_handle());
      asio::steady_timer pause(acceptor.get_executor());
      pause.expires_after(table.limits().accept_backoff);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    exhausted = false;
    if (auto c = table.admit(std::move(socket)))
      asio::co_spawn(acceptor.get_executor(), serve(c), asio::detached);
  }
}

}  // namespace kcd::daemon

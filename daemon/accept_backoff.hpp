// Accept loops and the one backoff policy: an accept that fails (EMFILE, ENFILE and ENOBUFS
// fail at once, again and again) waits before the next instead of spinning the event loop.
#pragma once

#include "rotation/backoff.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kcd::daemon {

// 100 ms doubling to 2 s: a listener out of descriptors answers again soon after they free up.
inline rotation::Backoff accept_backoff() {
  rotation::BackoffPolicy p;
  p.initial = std::chrono::milliseconds(100);
  p.cap = std::chrono::seconds(2);
  p.floor = std::chrono::milliseconds(50);
  return rotation::Backoff(p, rotation::system_uniform01());
}

// Waits backoff.next() on the calling coroutine's executor (a closed listener ends the wait early
// only through the caller's own check afterwards).
inline boost::asio::awaitable<void> pause_after_accept_error(rotation::Backoff& backoff) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  timer.expires_after(backoff.next());
  boost::system::error_code ec;
  co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

}  // namespace kcd::daemon

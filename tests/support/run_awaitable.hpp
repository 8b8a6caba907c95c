// Runs one coroutine to completion on an io_context and returns its result (tests that drive
// the API client directly). An exception from the coroutine is rethrown here. Work still pending
// when it ends (a timer) stays queued for the next run.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <utility>

namespace kcd::testing {

template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
  std::optional<T> result;
  auto wrapper = [](boost::asio::awaitable<T> inner, std::optional<T>& out) -> boost::asio::awaitable<void> {
    out.emplace(co_await std::move(inner));
  };
  // Stops at the coroutine's end, not when the loop runs out of work: a kept-alive connection's
  // idle timer would hold it for seconds.
  boost::asio::co_spawn(io, wrapper(std::move(op), result), [&io](std::exception_ptr e) {
    io.stop();
    if (e) std::rethrow_exception(e);
  });
  io.run();
  io.restart();
  return std::move(*result);
}

}  // namespace kcd::testing

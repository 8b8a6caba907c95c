// The watch stream: what a watch sends first, then each event as it happens.
#include "tests/devapi/watch.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

namespace kcd::devapi {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

asio::awaitable<void> WatchStreams::serve(TlsStream& stream, std::string resource, Query query) {
  const std::string only_name = name_selector(query);
  const std::string only_signer = signer_selector(query);
  std::optional<std::chrono::seconds> timeout;
  if (auto t = query.find("timeoutSeconds"); t != query.end() && !t->second.empty())
    timeout = std::chrono::seconds(std::stol(t->second));
  const std::string requested_version = query.count("resourceVersion") ? query["resourceVersion"] : "";

  http::response<http::empty_body> res;
  res.version(11);
  set_apiserver_headers(res, 200, "application/json", false, true);
  res.chunked(true);
  http::response_serializer<http::empty_body> sr(res);
  boost::system::error_code ec;
  co_await http::async_write_header(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;

  if (faults_.drop_watches) {
    beast::get_lowest_layer(stream).close();
    co_return;
  }
  auto timer = std::make_shared<asio::steady_timer>(io_);
  if (faults_.silent_watches) {
    // Like an apiserver shutting down: the stream stays open and says nothing.
    waiters_.push_back(timer);
    for (;;) {
      timer->expires_after(1h);
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!serving_ || !beast::get_lowest_layer(stream).socket().is_open()) co_return;
      if (!faults_.silent_watches) break;
    }
  }
  const auto& history = store_.history();
  long last_seen = store_.resource_version();
  const long oldest = store_.oldest_retained();
  const bool from_now = requested_version.empty() || requested_version == "0";
  if (faults_.watch_too_old || (!from_now && store_.compacted(std::stol(requested_version)))) {
    ojson ev = ojson::object();
    ev["type"] = "ERROR";
    ev["object"] =
        status_object(410, "Expired",
                      "too old resource version: " + requested_version + " (" + std::to_string(oldest) + ")");
    co_await write_chunk(stream, ev.dump() + "\n", ec);
    if (!ec) co_await write_last_chunk(stream, ec);
    co_return;
  }
  if (from_now) {
    // Synthetic ADDED events for the current state, then what happens next.
    std::vector<ojson> current;
    if (resource == "certificatesigningrequests") {
      for (const auto& [name, c] : store_.csrs()) {
        if ((only_name.empty() || name == only_name) && (only_signer.empty() || c.signer == only_signer))
          current.push_back(c.to_json());
      }
    } else {
      for (const ojson* o : store_.objects(resource)) {
        if (only_name.empty() || (*o)["metadata"]["name"] == only_name) current.push_back(*o);
      }
    }
    for (auto& object : current) {
      ojson ev = ojson::object();
      ev["type"] = "ADDED";
      ev["object"] = std::move(object);
      co_await write_chunk(stream, ev.dump() + "\n", ec);
      if (ec) co_return;
    }
  } else {
    last_seen = std::stol(requested_version);
  }
  const auto deadline =
      timeout ? std::chrono::steady_clock::now() + *timeout : std::chrono::steady_clock::time_point::max();
  waiters_.push_back(timer);
  while (serving_) {
    std::vector<std::string> lines;
    for (const auto& ev : history) {
      if (ev.resource_version > last_seen && ev.resource == resource &&
          (only_name.empty() || ev.name == only_name) && (only_signer.empty() || ev.signer == only_signer))
        lines.push_back(ev.line);
    }
    if (!history.empty()) last_seen = std::max(last_seen, history.back().resource_version);
    for (const auto& line : lines) {
      co_await write_chunk(stream, line, ec);
      if (ec) co_return;
    }
    if (faults_.refuse_connections) co_return;
    // Events emitted while we were writing: no wake-up reached us (we were not waiting yet).
    if (!history.empty() && history.back().resource_version > last_seen) continue;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    timer->expires_after(std::min<std::chrono::steady_clock::duration>(deadline - now, 1h));
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!beast::get_lowest_layer(stream).socket().is_open()) co_return;
    // Cancelled = woken by a new event (re-register: wake_all keeps live timers).
  }
  co_await write_last_chunk(stream, ec);
}

void WatchStreams::wake_all() {
  std::vector<std::weak_ptr<asio::steady_timer>> alive;
  for (auto& w : waiters_) {
    if (auto t = w.lock()) {
      t->cancel();
      alive.push_back(w);
    }
  }
  waiters_.swap(alive);
}

}  // namespace kcd::devapi

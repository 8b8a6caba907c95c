#include "daemon/agent_driver.hpp"

#include "systemd/log.hpp"

namespace kcd::daemon {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using rotation::CertKind;
using rotation::Step;

asio::awaitable<void> AgentDriver::await_csr(CertificateRun& s, const Step& st) {
  const auto kind_name = to_string(s.kind);
  auto conn = connection_or_failed(s);
  if (!conn) co_return;
  auto client = effects.csr_api(conn->endpoint, conn->credentials);
  std::optional<api::Csr> verdict;
  bool deleted = false;
  bool expired = false;
  int events_seen = 0;
  bool approved_logged = false;
  auto handler = [&](const api::WatchEvent& ev) -> bool {
    ++events_seen;
    switch (ev.type) {
      case api::WatchEvent::Type::Error:
        expired = true;
        return false;
      case api::WatchEvent::Type::Deleted:
        deleted = true;
        return false;
      case api::WatchEvent::Type::Bookmark:
        return true;
      default:
        break;
    }
    if (ev.object.name != st.csr) return true;
    if (ev.object.issued() || ev.object.terminal_condition() != nullptr) {
      verdict = ev.object;
      return false;
    }
    if (ev.object.approved() && !approved_logged) {
      approved_logged = true;
      log::info("csr approved", {{"cert", kind_name}, {"csr", st.csr}});
      s.machine.observed(view_of(ev.object), now());
      report(s);
    }
    return true;
  };
  s.active_request = client.get();
  trace_phase(s.kind, "watch-start");
  const auto started = now();
  auto result = co_await client->watch_csr(st.csr, st.resource_version, timings.watch_timeout,
                                           timings.watch_timeout + timings.watch_grace, handler);
  s.active_request = nullptr;
  if (stop_requested) co_return;
  const auto t = now();
  if (verdict) {
    trace_phase(s.kind, "issued");
    if (verdict->issued()) s.issued = *verdict;
    saw_csr(s, *verdict);
    s.machine.observed(view_of(*verdict), t);
    co_return;
  }
  if (deleted) {
    log::warn("csr gone", {{"cert", kind_name}, {"csr", st.csr}});
    s.machine.gone(t);
    co_return;
  }
  // Only a watch that ran about as long as asked is followed by a new one at once; every other
  // end goes through the backoff (a server answering 410 every time gets the policy's rate).
  const bool long_enough = t - started >= timings.watch_timeout / 2;
  if (expired) {
    // 410: our resourceVersion fell out of the watch window; GET, then watch from the new one.
    log::info("watch expired, relisting", {{"cert", kind_name}, {"csr", st.csr}});
    s.machine.watch_ended(long_enough, t, "watch of csr " + st.csr + " expired (410 Gone)");
    co_return;
  }
  if (!result) {
    log::warn("watch failed", {{"cert", kind_name}, {"csr", st.csr}, {"error", result.error().format()}});
    s.machine.failed(result.error(), t, conn->as_node);
    co_return;
  }
  if (*result == api::WatchEnd::Silent)
    log::warn("watch silent, reconnecting", {{"cert", kind_name}, {"csr", st.csr}});
  const bool silent = *result == api::WatchEnd::Silent;
  s.machine.watch_ended(
      !silent && long_enough, t,
      "watch of csr " + st.csr +
          (silent ? std::string(" went silent")
                  : " ended after " + std::to_string(events_seen) + " events, before its timeout"));
}

}  // namespace kcd::daemon

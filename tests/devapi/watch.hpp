// Watches of CSRs and Nodes, streamed as kube-apiserver streams them: one chunk per JSON event, synthetic
// ADDED events for a watch without a resourceVersion, 410 Expired for a compacted one, and the
// watch faults (dropped, silent, too old).
#pragma once

#include "tests/devapi/wire.hpp"

#include "tests/devapi/csr_api.hpp"
#include "tests/devapi/server.hpp"
#include "tests/devapi/store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <vector>

namespace kcd::devapi {

// Runs on the io thread. A watch waits on a timer between events; the store's listener, a
// lifted fault or shutdown cancels the timers so that each watch looks again.
class WatchStreams {
 public:
  WatchStreams(boost::asio::io_context& io, const CsrStore& store, const Faults& faults)
      : io_(io), store_(store), faults_(faults) {}

  // Watches end once serving is off (the server is stopping).
  void set_serving(bool serving) { serving_ = serving; }
  // Streams one watch (the caller has checked RBAC) until timeoutSeconds, a fault, the
  // connection or the server ends it.
  // `resource`: "certificatesigningrequests" or "nodes" (cluster-scoped, by name).
  boost::asio::awaitable<void> serve(TlsStream& stream, std::string resource, Query query);
  void wake_all();

 private:
  boost::asio::io_context& io_;
  const CsrStore& store_;
  const Faults& faults_;
  bool serving_ = false;
  std::vector<std::weak_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace kcd::devapi

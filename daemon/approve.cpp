#include "daemon/approve.hpp"

#include "daemon/cluster_ca.hpp"

#include "daemon/approver.hpp"
#include "daemon/exit_verdict.hpp"
#include "daemon/metrics.hpp"
#include "systemd/log.hpp"
#include "systemd/notify.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <openssl/rand.h>

#include <csignal>
#include <cstdio>
#include <iostream>

namespace kcd::daemon {

namespace asio = boost::asio;

Expected<std::pair<api::Endpoint, api::Credentials>> approver_connection(
    const std::filesystem::path& kubeconfig) {
  auto kc = config::load_kubeconfig(kubeconfig);
  if (!kc) {
    Error e = kc.error();
    e.message +=
        " (the approver's kubeconfig, approverKubeconfig / --kubeconfig: mint its identity as the README's "
        "\"Serving certificates on a stock cluster\" shows)";
    return Unexpected(e);
  }
  // Only real CAs, valid now, are trusted for the API server.
  if (auto bundle = check_kubeconfig_ca(*kc, std::chrono::system_clock::now()); !bundle)
    return Unexpected(bundle.error());
  api::Endpoint endpoint{kc->server, kc->ca_pem, kc->tls_server_name};
  api::Credentials creds;
  if (kc->token) {
    creds.bearer_token = kc->token;
  } else if (kc->client_certificate_pem || kc->client_certificate_file) {
    creds.client_cert_pem = kc->client_certificate_pem;
    creds.client_key_pem = kc->client_key_pem;
    creds.client_cert_file = kc->client_certificate_file;
    creds.client_key_file = kc->client_key_file;
  } else {
    return Unexpected(config_error(Location{kubeconfig.string(), 0, 0, "users"},
                                   "the current user has neither a token nor a client certificate"));
  }
  return std::pair{std::move(endpoint), std::move(creds)};
}

std::string approver_holder_identity(const std::string& name) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    // No randomness: the process id and the time still tell processes apart.
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    std::snprintf(reinterpret_cast<char*>(b), sizeof b, "%08x%07llx", static_cast<unsigned>(::getpid()),
                  static_cast<unsigned long long>(t) & 0xfffffffULL);
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // variant
  char uuid[40];
  std::snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return name + "_" + uuid;
}

int run_approver(const config::Settings& settings, const ApproveOptions& options) {
  // The kubeconfig must be usable at start: a typo is reported now, not retried forever.
  if (auto first = approver_connection(settings.approver_kubeconfig); !first) {
    std::cerr << "kubelet-certd approve: " << first.error().format() << "\n";
    return kExitError;
  }
  asio::io_context io;
  ApproverConfig config;
  config.identity = approver_holder_identity(settings.approver_identity);
  config.host = settings.approver_identity;
  config.policy.dns_pattern = settings.approver_dns_name_pattern;
  config.policy.allowed_ip_ranges = settings.approver_allowed_ip_ranges;
  config.policy.max_expiration_seconds = settings.approver_max_expiration_seconds;
  config.resync = settings.approver_resync_period;
  config.watch_timeout = std::min(config.watch_timeout, config.resync);
  if (options.lease_duration) config.timings.lease_duration = *options.lease_duration;
  if (options.renew_deadline) config.timings.renew_deadline = *options.renew_deadline;
  if (options.retry_period) config.timings.retry_period = *options.retry_period;
  if (!(config.timings.retry_period < config.timings.renew_deadline &&
        config.timings.renew_deadline < config.timings.lease_duration)) {
    std::cerr
        << "kubelet-certd approve: the lease timings must satisfy retry period < renew deadline < lease "
           "duration\n";
    return kExitConfig;
  }
  const std::filesystem::path kubeconfig = settings.approver_kubeconfig;
  ApproverClientFactory clients = [&io, kubeconfig]() -> Expected<std::unique_ptr<api::Client>> {
    auto c = approver_connection(kubeconfig);
    if (!c) return Unexpected(c.error());
    return std::make_unique<api::Client>(io, std::move(c->first), std::move(c->second));
  };
  Approver approver(io, std::move(clients), config);

  std::unique_ptr<MetricsServer> metrics;
  if (settings.approver_metrics_address) {
    auto listening = MetricsServer::listen(io, *settings.approver_metrics_address, [&approver] {
      return render_approver_metrics(approver.metrics());
    });
    if (!listening) {
      std::cerr << "kubelet-certd approve: " << listening.error().format() << "\n";
      return kExitError;
    }
    metrics = std::move(*listening);
    log::info("metrics endpoint listening", {{"address", settings.approver_metrics_address->text()}});
  }

  systemd::Notifier notifier;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log::info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    notifier.stopping();
    approver.stop();
  });
  asio::steady_timer watchdog(io);
  std::function<void()> ping = [&] {
    const auto interval = notifier.watchdog_interval();
    if (!interval) return;
    watchdog.expires_after(*interval);
    watchdog.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      notifier.watchdog();
      ping();
    });
  };
  ping();

  Expected<void> result;
  asio::co_spawn(io, approver.run(), [&](std::exception_ptr e, Expected<void> r) {
    if (e) {
      result = Unexpected(make_error(ErrorKind::Unexpected, "the approver failed"));
    } else {
      result = std::move(r);
    }
    signals.cancel();
    watchdog.cancel();
    if (metrics) metrics->close();
  });
  asio::post(io, [&] {
    notifier.ready();
    notifier.status("approving kubelet-serving CSRs of nodes that match them");
  });
  io.run();
  if (!result) {
    std::cerr << "kubelet-certd approve: " << result.error().format() << "\n";
    return kExitError;
  }
  return kExitOk;
}

}  // namespace kcd::daemon

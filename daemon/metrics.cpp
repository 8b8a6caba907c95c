#include "daemon/metrics.hpp"

#include "daemon/listener.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <cstdio>

namespace kcd::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string seconds(SysTime t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", std::chrono::duration<double>(t.time_since_epoch()).count());
  return buf;
}

}  // namespace

void metric_family(std::string& out, const std::string& name, const std::string& type,
                   const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

// A label value in the text exposition format: backslash, double quote and newline escaped, so a
// value can never end its label or its line.
std::string metric_label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// Prometheus scrapes one request at a time: 64 covers several scrapers and curl by hand.
const ListenerLimits kMetricsLimits{64, std::chrono::seconds(10), std::chrono::milliseconds(250)};

std::string render_prometheus(const MetricsSnapshot& s) {
  std::string out;
  auto per_cert = [&](const std::string& name, const std::string& type, const std::string& help,
                      const std::function<std::optional<std::string>(const CertMetrics&)>& value) {
    metric_family(out, name, type, help);
    for (const auto& c : s.certs) {
      if (auto v = value(c)) out += name + "{cert=\"" + metric_label_value(c.cert) + "\"} " + *v + "\n";
    }
  };
  per_cert("kubelet_certd_certificate_expiration_timestamp_seconds", "gauge",
           "notAfter of the current certificate (Unix time).", [](const CertMetrics& c) {
             return c.not_after ? std::optional(seconds(*c.not_after)) : std::nullopt;
           });
  per_cert("kubelet_certd_certificate_rotation_deadline_timestamp_seconds", "gauge",
           "When the current certificate will be rotated (Unix time).", [](const CertMetrics& c) {
             return c.rotation_deadline ? std::optional(seconds(*c.rotation_deadline)) : std::nullopt;
           });
  per_cert("kubelet_certd_certificate_valid", "gauge", "1 when a valid certificate is installed.",
           [](const CertMetrics& c) { return std::optional<std::string>(c.valid ? "1" : "0"); });
  per_cert("kubelet_certd_pending_csr_age_seconds", "gauge",
           "Age of the CSR waiting for approval or signing (0: none).", [&](const CertMetrics& c) {
             const double age =
                 c.pending_since ? std::chrono::duration<double>(s.now - *c.pending_since).count() : 0.0;
             char buf[32];
             std::snprintf(buf, sizeof buf, "%.3f", age < 0 ? 0.0 : age);
             return std::optional<std::string>(buf);
           });
  per_cert("kubelet_certd_csrs_created_total", "counter", "CSRs created on the API server.",
           [](const CertMetrics& c) { return std::optional(std::to_string(c.csrs_created)); });
  per_cert("kubelet_certd_last_success_timestamp_seconds", "gauge",
           "When a certificate was last installed (Unix time).", [](const CertMetrics& c) {
             return c.last_success ? std::optional(seconds(*c.last_success)) : std::nullopt;
           });
  metric_family(
      out, "kubelet_certd_rotation_attempts_total", "counter",
      "How certificate requests ended since start, by result (success, denied, failed, rejected, gone, "
      "error).");
  for (const auto& c : s.certs) {
    for (const char* result : {"success", "denied", "failed", "rejected", "gone", "error"}) {
      const auto it = c.attempts.find(result);
      out += "kubelet_certd_rotation_attempts_total{cert=\"" + metric_label_value(c.cert) + "\",result=\"" +
             result + "\"} " + std::to_string(it == c.attempts.end() ? 0 : it->second) + "\n";
    }
  }
  if (!s.cis.empty()) {
    metric_family(out, "kubelet_certd_cis_check", "gauge",
                  "CIS kubelet checks: 1 for the check's current status.");
    for (const auto& c : s.cis) {
      for (const char* st : {"PASS", "FAIL", "WARN"}) {
        out += "kubelet_certd_cis_check{id=\"" + metric_label_value(c.id) + "\",status=\"" + st + "\"} " +
               (c.status == st ? "1" : "0") + "\n";
      }
    }
  }
  metric_family(
      out, "kubelet_certd_kubelet_config_rollbacks_total", "counter",
      "Changes to the kubelet's config file rolled back because the kubelet did not come back after them.");
  out += "kubelet_certd_kubelet_config_rollbacks_total " + std::to_string(s.kubelet.rollbacks) + "\n";
  metric_family(out, "kubelet_certd_kubelet_config_key_held", "gauge",
                "Keys the patch does not write: reason=version (this kubelet would refuse them) or rollback "
                "(refused after a rollback).");
  for (const auto& k : s.kubelet.held_keys) {
    const bool refused = std::find(s.kubelet.refused_keys.begin(), s.kubelet.refused_keys.end(), k) !=
                         s.kubelet.refused_keys.end();
    out += "kubelet_certd_kubelet_config_key_held{key=\"" + metric_label_value(k) + "\",reason=\"" +
           (refused ? "rollback" : "version") + "\"} 1\n";
  }
  metric_family(out, "kubelet_certd_events_posted_total", "counter",
                "Events about the node accepted by the API server: created, or patched (a repeat counted).");
  out += "kubelet_certd_events_posted_total{verb=\"create\"} " + std::to_string(s.events.created) + "\n";
  out += "kubelet_certd_events_posted_total{verb=\"patch\"} " + std::to_string(s.events.patched) + "\n";
  metric_family(
      out, "kubelet_certd_events_dropped_total", "counter",
      "Events about the node not posted, by why: rate_limited (the token bucket), queue_full, refused "
      "(403: posting stopped), failed, stopped (the daemon stopped first).");
  for (const char* why : {"rate_limited", "queue_full", "refused", "failed", "stopped"}) {
    const auto it = s.events.dropped.find(why);
    out += std::string("kubelet_certd_events_dropped_total{reason=\"") + why + "\"} " +
           std::to_string(it == s.events.dropped.end() ? 0 : it->second) + "\n";
  }
  metric_family(
      out, "kubelet_certd_cluster_ca_checks_total", "counter",
      "Checks of the cluster's CA bundle in kube-public/cluster-info, by result: unchanged, followed "
      "(kubelet.conf and the client CA file updated), held (a drop waits for re-issued "
      "certificates), refused (not a real CA, a bad signature, a wholesale swap), unreadable, failed.");
  for (const char* result : {"unchanged", "followed", "held", "refused", "unreadable", "failed"}) {
    const auto it = s.cluster_ca.checks.find(result);
    out += std::string("kubelet_certd_cluster_ca_checks_total{result=\"") + result + "\"} " +
           std::to_string(it == s.cluster_ca.checks.end() ? 0 : it->second) + "\n";
  }
  if (s.cluster_ca.last_followed) {
    metric_family(out, "kubelet_certd_cluster_ca_last_followed_timestamp_seconds", "gauge",
                  "When the node last followed a change of the cluster's CA bundle (Unix time).");
    out += "kubelet_certd_cluster_ca_last_followed_timestamp_seconds " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                              s.cluster_ca.last_followed->time_since_epoch())
                              .count()) +
           "\n";
  }
  metric_family(out, "kubelet_certd_build_info", "gauge", "Version of kubelet-certd.");
  out += std::string("kubelet_certd_build_info{version=\"") + KCD_VERSION + "\"} 1\n";
  return out;
}

// The listening socket and its accept loop; each connection is one GET and one answer.
struct MetricsServer::Listener {
  Listener(asio::io_context& io, std::function<std::string()> r)
      : acceptor(io), table(kMetricsLimits), render(std::move(r)) {}
  tcp::acceptor acceptor;
  ConnectionTable<tcp::socket> table;
  ReserveFd reserve;
  std::function<std::string()> render;

  asio::awaitable<void> serve(ConnectionTable<tcp::socket>::Handle c) {
    beast::flat_buffer buffer;
    http::request<http::empty_body> req;
    boost::system::error_code ec;
    co_await http::async_read(c->socket, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      table.release(c);  // timed out, evicted, or the client went away
      co_return;
    }
    c->answering = true;
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(false);
    if (req.method() == http::verb::get && req.target() == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = render();
    } else {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "kubelet-certd serves /metrics only\n";
    }
    res.prepare_payload();
    co_await http::async_write(c->socket, res, asio::redirect_error(asio::use_awaitable, ec));
    c->socket.shutdown(tcp::socket::shutdown_both, ec);
    table.release(c);
  }
};

MetricsServer::MetricsServer(std::unique_ptr<Listener> listener) : listener_(std::move(listener)) {}

Expected<std::unique_ptr<MetricsServer>> MetricsServer::listen(asio::io_context& io,
                                                               const config::ListenAddress& listen_on,
                                                               std::function<std::string()> render) {
  // The address was parsed once, with the settings: an IP literal and a port.
  const std::string address = listen_on.text();
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(listen_on.ip, ec);
  if (ec)
    return Unexpected(
        make_error(ErrorKind::Config, ec.message(), Location{"", 0, 0, "metricsAddress " + address}));
  const tcp::endpoint ep(ip, listen_on.port);
  auto listener = std::make_unique<Listener>(io, std::move(render));
  listener->acceptor.open(ep.protocol(), ec);
  if (!ec) listener->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) listener->acceptor.bind(ep, ec);
  if (!ec) listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    Error e = make_error(ErrorKind::Io, ec.message(), Location{"", 0, 0, "metricsAddress " + address});
    e.code = ec.value();
    return Unexpected(std::move(e));
  }
  Listener& l = *listener;
  asio::co_spawn(
      io,
      accept_connections(l.acceptor, l.table, l.reserve, "metrics " + address,
                         [&l](ConnectionTable<tcp::socket>::Handle c) { return l.serve(std::move(c)); }),
      asio::detached);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(listener)));
}

MetricsServer::~MetricsServer() {
  close();
}

unsigned short MetricsServer::port() const {
  boost::system::error_code ec;
  return listener_->acceptor.local_endpoint(ec).port();
}

void MetricsServer::close() {
  boost::system::error_code ec;
  listener_->acceptor.close(ec);
  listener_->table.close_all();
}

}  // namespace kcd::daemon

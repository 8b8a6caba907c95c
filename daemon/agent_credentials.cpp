#include "daemon/agent_driver.hpp"

#include "config/kubeconfig.hpp"
#include "daemon/cluster_ca.hpp"
#include "base/files.hpp"
#include "systemd/log.hpp"

namespace kcd::daemon {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using rotation::CertKind;
using rotation::Step;

std::optional<config::Kubeconfig> AgentDriver::try_kubeconfig(const fs::path& path,
                                                              std::optional<Error>* error) const {
  auto kc = effects.kubeconfigs->load(path);
  if (!kc) {
    if (error) *error = kc.error();
    return std::nullopt;
  }
  if (!*kc) return std::nullopt;
  // Only real CAs, valid now, are trusted for the API server.
  if (auto bundle = check_kubeconfig_ca(**kc, now()); !bundle) {
    if (error) *error = bundle.error();
    return std::nullopt;
  }
  return *kc;
}

Expected<Connection> AgentDriver::connection(CertificateRun& s) const {
  std::optional<Error> kubelet_err, bootstrap_err;
  auto kubelet = try_kubeconfig(settings.kubeconfig, &kubelet_err);
  auto bootstrap = try_kubeconfig(settings.bootstrap_kubeconfig, &bootstrap_err);
  const config::Kubeconfig* source = kubelet ? &*kubelet : bootstrap ? &*bootstrap : nullptr;
  if (source == nullptr) {
    std::string why = "no API server to talk to: neither " + settings.kubeconfig.string() + " nor " +
                      settings.bootstrap_kubeconfig.string() + " is usable";
    if (kubelet_err) why += "; " + kubelet_err->format();
    if (bootstrap_err) why += "; " + bootstrap_err->format();
    why += " (place a bootstrap kubeconfig at " + settings.bootstrap_kubeconfig.string() + ")";
    // Waited for (retryable): configuration management may place the file any moment.
    return Unexpected(make_error(ErrorKind::Io, why));
  }
  Connection c;
  c.endpoint.server = source->server;
  c.endpoint.ca_pem = source->ca_pem;
  c.endpoint.tls_server_name = source->tls_server_name;

  // The node authenticates with its client certificate, whichever certificate it asks for.
  const auto& client_run = runs[static_cast<int>(CertKind::Client)];
  const auto& current = client_run ? client_run->machine.current() : s.machine.current();
  const bool node_cert_usable = current && now() < current->not_after;
  if (s.kind == CertKind::Serving || (node_cert_usable && !s.machine.prefer_bootstrap())) {
    if (!node_cert_usable && s.kind == CertKind::Serving) {
      return Unexpected(make_error(
          ErrorKind::Io,
          "waiting for a valid client certificate to request the serving certificate as the node"));
    }
    const fs::path client = rotation::Store(settings.cert_dir, CertKind::Client).current_path();
    c.credentials.client_cert_file = client;
    c.credentials.client_key_file = client;
    c.auth_description = "client certificate " + client.string();
    c.as_node = true;
    return c;
  }
  if (!bootstrap) {
    std::string why = "cannot request a client certificate: ";
    why += node_cert_usable ? "the node's certificate was refused (401)"
                            : "there is no valid client certificate";
    why += " and the bootstrap kubeconfig " + settings.bootstrap_kubeconfig.string();
    why += !bootstrap_err ? " does not exist" : " is unusable: " + bootstrap_err->format();
    why += "; place a bootstrap kubeconfig there (it is picked up without a restart)";
    return Unexpected(make_error(ErrorKind::Io, why));
  }
  if (bootstrap->token) {
    c.credentials.bearer_token = bootstrap->token;
    c.auth_description = "bootstrap token from " + settings.bootstrap_kubeconfig.string();
  } else if (bootstrap->client_certificate_pem || bootstrap->client_certificate_file) {
    c.credentials.client_cert_pem = bootstrap->client_certificate_pem;
    c.credentials.client_key_pem = bootstrap->client_key_pem;
    c.credentials.client_cert_file = bootstrap->client_certificate_file;
    c.credentials.client_key_file = bootstrap->client_key_file;
    c.auth_description = "client certificate from " + settings.bootstrap_kubeconfig.string();
  } else {
    return Unexpected(config_error(Location{settings.bootstrap_kubeconfig.string(), 0, 0, "users"},
                                   "the current user has neither a token nor a client certificate"));
  }
  if (node_cert_usable)
    log::warn("falling back to the bootstrap kubeconfig",
              {{"cert", to_string(s.kind)}, {"path", settings.bootstrap_kubeconfig}});
  return c;
}

bool AgentDriver::kubeconfig_stale(CertificateRun& s, const Connection& conn) const {
  auto kc = try_kubeconfig(settings.kubeconfig, nullptr);
  if (!kc) return true;
  const fs::path want = s.store->current_path();
  return kc->server.text != conn.endpoint.server.text || kc->ca_pem != conn.endpoint.ca_pem ||
         kc->client_certificate_file != std::optional<fs::path>(want) ||
         kc->client_key_file != std::optional<fs::path>(want);
}

Expected<void> AgentDriver::write_kubeconfig(CertificateRun& s, const Connection& conn) {
  config::KubeletKubeconfigSpec spec;
  spec.server = conn.endpoint.server.text;
  spec.ca_pem = conn.endpoint.ca_pem;
  spec.tls_server_name = conn.endpoint.tls_server_name;
  spec.client_certificate = s.store->current_path();
  spec.client_key = s.store->current_path();
  auto text = config::render_kubelet_kubeconfig(spec);
  if (!text) return Unexpected(text.error());
  auto written = effects.kubeconfigs->write(settings.kubeconfig, *text);
  if (!written) return written;
  kcd::crash_point("kubeconfig-written");
  log::info("kubeconfig written",
            {{"path", settings.kubeconfig}, {"client_certificate", s.store->current_path()}});
  return {};
}

std::optional<Connection> AgentDriver::connection_or_failed(CertificateRun& s) {
  auto conn = connection(s);
  if (!conn) {
    s.machine.failed(conn.error(), now());
    return std::nullopt;
  }
  return std::move(*conn);
}

}  // namespace kcd::daemon

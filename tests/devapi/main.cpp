// kubelet-certd-devapi: the development API server as a process (demo, e2e, crash tests).
#include "base/duration.hpp"
#include "tests/devapi/server.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

std::chrono::milliseconds duration_or_die(const std::string& flag, const std::string& text) {
  auto d = kcd::parse_duration(text);
  if (!d) {
    std::cerr << "kubelet-certd-devapi: " << flag << ": " << d.error().message << "\n";
    std::exit(2);
  }
  return *d;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "kubelet-certd-devapi: development Kubernetes API server (certificatesigningrequests) on loopback"};
  kcd::devapi::Options o;
  kcd::devapi::Faults f;
  std::string listen = "127.0.0.1:0", signing = "8760h", approve_delay = "5ms", sign_delay = "5ms",
              serving = "none";
  bool no_auto_approve = false;
  int delay_ms = 0;
  app.add_option("--listen", listen, "address:port to listen on (port 0: any free port)");
  app.add_option(
         "--state-dir", o.state_dir,
         "where cas.json, ca.crt (the CA bundle), signer-ca.crt/.key, bootstrap-kubelet.conf, admin.conf, "
         "approver.conf and devapi.json go")
      ->required();
  app.add_option("--token", o.bootstrap_tokens,
                 "bootstrap token [a-z0-9]{6}.[a-z0-9]{16} (repeatable; one is generated if none)");
  app.add_option("--admin-token", o.admin_token, "admin bearer token (generated if empty)");
  app.add_option("--signing-duration", signing, "like --cluster-signing-duration: 30s, 1h, 8760h");
  app.add_flag("--no-auto-approve", no_auto_approve, "do not auto-approve kubelet client CSRs");
  app.add_option("--serving-approver", serving, "none|strict|all: who approves kubelet-serving CSRs");
  app.add_option("--approve-delay", approve_delay, "delay from ADDED to Approved");
  app.add_option("--sign-delay", sign_delay, "delay from Approved to the certificate");
  app.add_option("--watch-cache-events", o.watch_cache_events,
                 "watch history window (older resourceVersions get 410)");
  app.add_option("--fault-delay-ms", delay_ms, "fault: delay every response");
  app.add_flag("--fault-deny-all", f.deny_all, "fault: deny every CSR");
  app.add_flag("--fault-fail-all", f.fail_all, "fault: the signer fails every CSR");
  app.add_flag("--fault-wrong-key", f.wrong_key_certificate, "fault: issue certificates for another key");
  app.add_flag("--fault-silent-watches", f.silent_watches, "fault: watches never send anything");
  app.add_flag("--fault-drop-watches", f.drop_watches, "fault: watches are cut after the headers");
  app.add_flag("--fault-watch-too-old", f.watch_too_old, "fault: every watch gets ERROR 410");
  app.add_option("--fault-5xx", f.fail_next_with_5xx, "fault: the next N requests get 500");
  app.add_option("--fault-429", f.throttle_next, "fault: the next N requests get 429 + Retry-After");
  std::vector<std::string> nodes;
  app.add_option("--node", nodes,
                 "NAME=IP: register Node NAME with status.addresses InternalIP IP and Hostname NAME, as its "
                 "kubelet would (repeatable)");
  bool quiet = false;
  app.add_flag("--quiet", quiet, "do not log each request");
  CLI11_PARSE(app, argc, argv);

  const auto colon = listen.rfind(':');
  o.listen_host = listen.substr(0, colon);
  o.port = static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)));
  o.signing_duration =
      std::chrono::duration_cast<std::chrono::seconds>(duration_or_die("--signing-duration", signing));
  o.approve_delay = duration_or_die("--approve-delay", approve_delay);
  o.sign_delay = duration_or_die("--sign-delay", sign_delay);
  o.auto_approve_client = !no_auto_approve;
  o.serving_approver = serving == "strict" ? kcd::devapi::ServingApprover::Strict
                       : serving == "all"  ? kcd::devapi::ServingApprover::All
                                           : kcd::devapi::ServingApprover::None;
  o.log_requests = !quiet;
  f.response_delay = std::chrono::milliseconds(delay_ms);

  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  kcd::devapi::Server server(o);
  try {
    server.start();
  } catch (const std::exception& e) {
    std::cerr << "kubelet-certd-devapi: cannot start: " << e.what() << "\n";
    return 1;
  }
  server.set_faults(f);
  for (const auto& n : nodes) {
    const auto eq = n.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == n.size()) {
      std::cerr << "kubelet-certd-devapi: --node " << n << ": expected NAME=IP\n";
      return 2;
    }
    const std::string name = n.substr(0, eq);
    if (!server.create_node(name) ||
        server.set_node_addresses(name, {{"InternalIP", n.substr(eq + 1)}, {"Hostname", name}}) != 200) {
      std::cerr << "kubelet-certd-devapi: --node " << n << ": cannot register the Node\n";
      return 1;
    }
  }
  std::printf("devapi listening url=%s state_dir=%s\n", server.url().c_str(), o.state_dir.c_str());
  std::fflush(stdout);
  while (!g_stop) ::pause();
  server.stop();
  return 0;
}

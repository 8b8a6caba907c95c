#include "daemon/agent.hpp"

#include "config/kubeconfig.hpp"
#include "base/rfc3339.hpp"
#include "base/files.hpp"
#include "rotation/store/state_file.hpp"
#include "rotation/backoff.hpp"
#include "rotation/csr.hpp"
#include "rotation/csr_name.hpp"
#include "rotation/key.hpp"
#include "rotation/node_request.hpp"
#include "rotation/store/store.hpp"
#include "rotation/serving_policy.hpp"
#include "rotation/validate.hpp"
#include "systemd/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace kcd::daemon {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using rotation::CertKind;
using rotation::Step;
using SysClock = std::chrono::system_clock;

namespace {

// The API server and cluster CA, and how we authenticate, for one step.
struct Connection {
  api::Endpoint endpoint;
  api::Credentials credentials;
  std::string auth_description;   // "bootstrap token", "client certificate <path>"
  bool as_node = false;           // authenticated with the node's own certificate
};

rotation::Failure failure_from(const api::ApiError& e, bool as_node) {
  rotation::Failure f;
  f.message = e.describe();
  f.retry_after = e.retry_after;
  f.unauthorized = e.kind == api::ErrorKind::Unauthorized && as_node;
  switch (e.kind) {
    case api::ErrorKind::Forbidden:
    case api::ErrorKind::Invalid:
    case api::ErrorKind::BadRequest:
      f.retryable = false;
      break;
    case api::ErrorKind::Unauthorized:
      // With the node certificate we can fall back to the bootstrap credential; with the
      // bootstrap token itself nothing but a new token (from configuration management) helps.
      f.retryable = as_node;
      break;
    default:
      f.retryable = true;
  }
  return f;
}

rotation::CsrView view_of(const api::Csr& csr) {
  rotation::CsrView v;
  v.resource_version = csr.resource_version;
  if (const api::CsrCondition* c = csr.terminal_condition()) {
    v.condition = c->type == "Denied" ? rotation::CsrView::Condition::Denied : rotation::CsrView::Condition::Failed;
    v.reason = c->reason;
    v.message = c->message;
  } else if (csr.issued()) {
    v.condition = rotation::CsrView::Condition::Issued;
  } else if (csr.approved()) {
    v.condition = rotation::CsrView::Condition::Approved;
  } else {
    v.condition = rotation::CsrView::Condition::Pending;
  }
  return v;
}

}  // namespace

struct Agent::Impl {
  struct Slot {
    CertKind kind;
    rotation::Store store;
    rotation::Lifecycle machine;
    ossl::PKeyPtr pending_key;
    std::optional<api::Csr> issued;          // the CSR whose certificate awaits Install
    asio::steady_timer* sleeper = nullptr;   // the timer run() is waiting on, if any
    api::CsrApi* active_request = nullptr;   // the API the request in flight uses, if any
    bool renew_requested = false;
    bool nudged = false;                     // what a backoff waits for has changed: re-check now
    std::string last_status;
  };

  Impl(asio::io_context& io_, config::Settings s, Tuning t, AgentEvents e, AgentEffects fx)
      : io(io_), settings(std::move(s)),
        node{settings.node_name, settings.serving_dns_names, settings.serving_ips, settings.key_algorithm},
        tuning(std::move(t)), events(std::move(e)), effects(std::move(fx)),
        uniform01(rotation::system_uniform01()) {}

  SysTime now() const { return effects.clock->now(); }

  asio::io_context& io;
  config::Settings settings;
  rotation::NodeIdentity node;
  Tuning tuning;
  AgentEvents events;
  AgentEffects effects;
  std::function<double()> uniform01;
  bool stop_requested = false;
  std::unique_ptr<Slot> slots[2];
  rotation::State state;
  rotation::State saved_state;
  bool state_loaded = false;

  Slot& slot(CertKind kind) {
    auto& s = slots[static_cast<int>(kind)];
    if (!s) {
      rotation::LifecyclePolicy policy;
      policy.backoff = tuning.backoff;
      policy.window = {settings.rotation_window_from, settings.rotation_window_to};
      policy.csr_create_interval = settings.csr_create_interval;
      s = std::make_unique<Slot>(Slot{kind, rotation::Store(settings.cert_dir, kind),
                                      rotation::Lifecycle(kind, policy, uniform01), nullptr, std::nullopt,
                                      nullptr, nullptr, false, false, {}});
    }
    return *s;
  }

  // ---- persistence -------------------------------------------------------------------

  void load_state_once() {
    if (state_loaded) return;
    state_loaded = true;
    // Half-written files of a process that died mid-write (we hold the instance lock).
    for (const auto& [dir, prefix] : {std::pair{settings.cert_dir, std::string("kubelet-")},
                                      std::pair{settings.kubeconfig.parent_path(), settings.kubeconfig.filename().string()}}) {
      for (const auto& p : kcd::remove_stale_temp_files(dir, prefix)) log::info("stale temporary file removed", {{"path", p}});
    }
    auto loaded = rotation::load_state(settings.cert_dir);
    if (!loaded.warning.empty()) log::warn("state file ignored", {{"path", settings.cert_dir / rotation::kStateFileName}, {"error", loaded.warning}});
    state = loaded.state;
    saved_state = state;
  }

  void persist(Slot& s) {
    state.of(s.kind) = s.machine.persistent();
    if (state == saved_state) return;
    try {
      kcd::ensure_directory(settings.cert_dir, 0755);
      rotation::save_state(settings.cert_dir, state);
      saved_state = state;
    } catch (const std::exception& e) {
      log::error("state file not written", {{"path", settings.cert_dir / rotation::kStateFileName}, {"error", e.what()}});
    }
  }

  void report(Slot& s) {
    std::string status = std::string(to_string(s.kind)) + ": " + s.machine.reason();
    if (status != s.last_status) {
      s.last_status = status;
      if (events.status) events.status(s.kind, status);
    }
    if (events.condition) events.condition(s.kind, s.machine.condition());
  }

  // ---- endpoint and credentials --------------------------------------------------------

  std::optional<config::Kubeconfig> try_kubeconfig(const fs::path& path, std::string* error) const {
    auto kc = effects.kubeconfigs->load(path);
    if (!kc) {
      if (error) *error = kc.error();
      return std::nullopt;
    }
    return *kc;
  }

  // Server and CA: from the kubelet kubeconfig once it exists, else the bootstrap kubeconfig.
  Expected<Connection, std::string> connection(Slot& s) const {
    std::string kubelet_err, bootstrap_err;
    auto kubelet = try_kubeconfig(settings.kubeconfig, &kubelet_err);
    auto bootstrap = try_kubeconfig(settings.bootstrap_kubeconfig, &bootstrap_err);
    const config::Kubeconfig* source = kubelet ? &*kubelet : bootstrap ? &*bootstrap : nullptr;
    if (source == nullptr) {
      std::string why = "no API server to talk to: neither " + settings.kubeconfig.string() + " nor " +
                        settings.bootstrap_kubeconfig.string() + " is usable";
      if (!kubelet_err.empty()) why += "; " + kubelet_err;
      if (!bootstrap_err.empty()) why += "; " + bootstrap_err;
      why += " (place a bootstrap kubeconfig at " + settings.bootstrap_kubeconfig.string() + ")";
      return Unexpected(why);
    }
    Connection c;
    c.endpoint.server = source->server;
    c.endpoint.ca_pem = source->ca_pem;
    c.endpoint.tls_server_name = source->tls_server_name;

    // The node authenticates with its client certificate, whichever certificate it asks for.
    const auto& client_slot = slots[static_cast<int>(CertKind::Client)];
    const auto& current = client_slot ? client_slot->machine.current() : s.machine.current();
    const bool node_cert_usable = current && now() < current->not_after;
    if (s.kind == CertKind::Serving || (node_cert_usable && !s.machine.prefer_bootstrap())) {
      if (!node_cert_usable && s.kind == CertKind::Serving) {
        return Unexpected(std::string("waiting for a valid client certificate to request the serving certificate as the node"));
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
      why += node_cert_usable ? "the node's certificate was refused (401)" : "there is no valid client certificate";
      why += " and the bootstrap kubeconfig " + settings.bootstrap_kubeconfig.string();
      why += bootstrap_err.empty() ? " does not exist" : " is unusable: " + bootstrap_err;
      why += "; place a bootstrap kubeconfig there (it is picked up without a restart)";
      return Unexpected(why);
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
      return Unexpected(settings.bootstrap_kubeconfig.string() +
                        ": the current user has neither a token nor a client certificate");
    }
    if (node_cert_usable) log::warn("falling back to the bootstrap kubeconfig", {{"cert", to_string(s.kind)}, {"path", settings.bootstrap_kubeconfig}});
    return c;
  }

  // ---- steps ---------------------------------------------------------------------------

  rotation::Inspection inspect(Slot& s) {
    load_state_once();
    rotation::Inspection ins;
    ins.persisted = state.of(s.kind);
    ins.persisted.pending.reset();
    const auto t = now();

    auto conn = connection(s);
    std::vector<ossl::X509Ptr> anchors;
    if (conn) {
      auto parsed = rotation::parse_certificates_pem(conn->endpoint.ca_pem, "cluster CA");
      if (parsed) anchors = std::move(*parsed);
    }

    auto current = s.store.load_current();
    if (!current) {
      ins.renew_reason = "current certificate unusable: " + current.error();
      log::warn("current certificate unusable", {{"cert", to_string(s.kind)}, {"path", s.store.current_path()}, {"error", current.error()}});
    } else if (!current->has_value()) {
      ins.renew_reason = "no certificate";
    } else {
      const rotation::InstalledPair& pair = **current;
      if (t < pair.info.not_after) ins.current = pair.info;
      ins.renew_reason = rotation::assess(s.kind, node, pair.chain, pair.key.get(), pair.info.not_after, anchors, t);
      if (!ins.renew_reason.empty()) {
        log::info("current certificate must be replaced", {{"cert", to_string(s.kind)}, {"path", pair.file}, {"reason", ins.renew_reason}});
      }
    }

    auto pending = s.store.load_pending_key();
    s.pending_key.reset();
    if (!pending) {
      log::warn("pending key unusable, discarding it", {{"cert", to_string(s.kind)}, {"path", s.store.pending_key_path()}, {"error", pending.error()}});
      s.store.discard_pending_key();
    } else if (pending->has_value()) {
      s.pending_key = std::move(**pending);
      bool leftover = false;
      if (current && current->has_value() && rotation::same_public_key((**current).key.get(), s.pending_key.get())) {
        // Installed, but we stopped before removing the pending copy.
        leftover = true;
      }
      if (leftover) {
        s.store.discard_pending_key();
        s.pending_key.reset();
      } else {
        rotation::PendingCsr p;
        p.name = rotation::csr_name(s.pending_key.get(), rotation::request_for(s.kind, node), rotation::usages_for(s.kind));
        p.key_sha256 = rotation::public_key_fingerprint(s.pending_key.get());
        const auto& persisted = state.of(s.kind).pending;
        if (persisted && persisted->name == p.name && persisted->key_sha256 == p.key_sha256) {
          p.filed = persisted->filed;
          p.filed_at = persisted->filed_at;
        }
        ins.pending = p;
      }
    }

    if (s.kind == CertKind::Client && ins.current && ins.renew_reason.empty() && conn) {
      ins.kubeconfig_stale = kubeconfig_stale(s, *conn);
    }
    return ins;
  }

  bool kubeconfig_stale(Slot& s, const Connection& conn) const {
    auto kc = try_kubeconfig(settings.kubeconfig, nullptr);
    if (!kc) return true;
    const fs::path want = s.store.current_path();
    return kc->server.text != conn.endpoint.server.text || kc->ca_pem != conn.endpoint.ca_pem ||
           kc->client_certificate_file != std::optional<fs::path>(want) ||
           kc->client_key_file != std::optional<fs::path>(want);
  }

  Expected<void, std::string> write_kubeconfig(Slot& s, const Connection& conn) {
    config::KubeletKubeconfigSpec spec;
    spec.server = conn.endpoint.server.text;
    spec.ca_pem = conn.endpoint.ca_pem;
    spec.tls_server_name = conn.endpoint.tls_server_name;
    spec.client_certificate = s.store.current_path();
    spec.client_key = s.store.current_path();
    auto written = effects.kubeconfigs->write(settings.kubeconfig, config::render_kubelet_kubeconfig(spec));
    if (!written) return written;
    kcd::crash_point("kubeconfig-written");
    log::info("kubeconfig written", {{"path", settings.kubeconfig}, {"client_certificate", s.store.current_path()}});
    return {};
  }

  asio::awaitable<void> sleep_until(Slot& s, SysTime at) {
    asio::steady_timer timer(io);
    s.sleeper = &timer;
    while (!stop_requested && !s.renew_requested && !s.nudged) {
      auto t = now();
      if (t >= at) break;
      // Wall-clock deadlines: wake at least every max_sleep_chunk to notice clock jumps and
      // suspend, which a steady timer alone would not.
      auto wait = std::min<SysClock::duration>(at - t, tuning.max_sleep_chunk);
      timer.expires_after(effects.clock->pass(wait));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    s.sleeper = nullptr;
    s.nudged = false;
  }

  void ensure_pending_key(Slot& s) {
    if (s.pending_key) return;
    auto loaded = s.store.load_pending_key();
    if (loaded && loaded->has_value()) s.pending_key = std::move(**loaded);
  }

  asio::awaitable<void> step(Slot& s, const Step& st) {
    const auto kind_name = to_string(s.kind);
    switch (st.kind) {
      case Step::Kind::Inspect: {
        s.machine.inspected(inspect(s), now());
        if (s.machine.phase() == rotation::Phase::Idle && s.machine.current()) {
          const auto& info = *s.machine.current();
          log::info("certificate valid", {{"cert", kind_name}, {"path", s.store.current_path()}, {"not_after", info.not_after},
                                          {"rotation_deadline", *s.machine.persistent().deadline}});
        }
        break;
      }
      case Step::Kind::WriteKubeconfig: {
        auto conn = connection(s);
        if (!conn) {
          s.machine.failed(rotation::Failure{conn.error(), true, false, std::nullopt}, now());
          break;
        }
        if (auto written = write_kubeconfig(s, *conn); written) {
          s.machine.kubeconfig_written();
        } else {
          s.machine.failed(rotation::Failure{written.error(), true, false, std::nullopt}, now());
        }
        break;
      }
      case Step::Kind::Sleep: {
        if (st.at > now()) {
          if (s.machine.phase() == rotation::Phase::Backoff) {
            log::info("retrying later", {{"cert", kind_name},
                                         {"retry_in", std::chrono::duration_cast<std::chrono::milliseconds>(st.at - now())},
                                         {"error", s.machine.persistent().last_error}});
          }
          co_await sleep_until(s, st.at);
        }
        if (s.renew_requested) {
          s.renew_requested = false;
          s.machine.renew_requested(now());
        }
        s.machine.woke(now());
        break;
      }
      case Step::Kind::GenerateKey: {
        if (s.kind == CertKind::Serving && settings.serving_ips.empty()) {
          s.machine.failed(rotation::Failure{"servingIPs is empty (the host has no non-loopback address): the kubelet and "
                                             "every approver need at least one IP SAN; set servingIPs or --serving=false",
                                             false, false, std::nullopt},
                           now());
          break;
        }
        try {
          auto key = rotation::generate_key(settings.key_algorithm);
          s.store.save_pending_key(key.get());
          kcd::crash_point("key-written");
          rotation::PendingCsr p;
          p.name = rotation::csr_name(key.get(), rotation::request_for(s.kind, node), rotation::usages_for(s.kind));
          p.key_sha256 = rotation::public_key_fingerprint(key.get());
          s.pending_key = std::move(key);
          log::info("key generated", {{"cert", kind_name}, {"algorithm", to_string(settings.key_algorithm)},
                                      {"path", s.store.pending_key_path()}, {"reason", st.reason}});
          if (s.kind == CertKind::Serving) {
            // Said before filing: a strict approver (postfinance/kubelet-csr-approver) would deny these.
            for (const auto& problem : rotation::check_serving_request(settings.node_name, rotation::request_for(s.kind, node),
                                                                       settings.serving_expiration_seconds, effects.resolve)) {
              log::warn("serving request breaks an approver rule", {{"cert", kind_name}, {"csr", p.name}, {"rule", problem}});
            }
          }
          s.machine.key_ready(p);
        } catch (const std::exception& e) {
          s.machine.failed(rotation::Failure{e.what(), true, false, std::nullopt}, now());
        }
        break;
      }
      case Step::Kind::Submit: {
        ensure_pending_key(s);
        auto conn = connection(s);
        if (!conn) {
          s.machine.failed(rotation::Failure{conn.error(), true, false, std::nullopt}, now());
          break;
        }
        api::CsrCreate req;
        req.name = st.csr;
        req.request_pem = rotation::build_csr_pem(s.pending_key.get(), rotation::request_for(s.kind, node));
        req.signer_name = std::string(rotation::signer_name(s.kind));
        req.usages = rotation::usages_for(s.kind);
        req.expiration_seconds =
            s.kind == CertKind::Client ? settings.client_expiration_seconds : settings.serving_expiration_seconds;
        auto client = effects.csr_api(conn->endpoint, conn->credentials);
        s.active_request = client.get();
        auto result = co_await client->create_csr(req);
        s.active_request = nullptr;
        if (stop_requested) break;
        if (result) {
          kcd::crash_point("csr-filed");
          log::info("csr filed", {{"cert", kind_name}, {"csr", st.csr}, {"signer", req.signer_name}, {"auth", conn->auth_description}});
          if (result->issued()) s.issued = *result;
          s.machine.submitted(view_of(*result), now());
        } else if (result.error().kind == api::ErrorKind::AlreadyExists) {
          log::info("csr exists, resuming", {{"cert", kind_name}, {"csr", st.csr}});
          s.machine.already_exists();
        } else {
          log::warn("csr not filed", {{"cert", kind_name}, {"csr", st.csr}, {"error", result.error().describe()}});
          s.machine.failed(failure_from(result.error(), conn->as_node), now());
        }
        break;
      }
      case Step::Kind::Lookup: {
        ensure_pending_key(s);
        auto conn = connection(s);
        if (!conn) {
          s.machine.failed(rotation::Failure{conn.error(), true, false, std::nullopt}, now());
          break;
        }
        auto client = effects.csr_api(conn->endpoint, conn->credentials);
        s.active_request = client.get();
        auto result = co_await client->get_csr(st.csr);
        s.active_request = nullptr;
        if (stop_requested) break;
        if (!result) {
          if (result.error().kind == api::ErrorKind::NotFound) {
            log::warn("csr gone", {{"cert", kind_name}, {"csr", st.csr}});
            s.machine.gone(now());
          } else {
            s.machine.failed(failure_from(result.error(), conn->as_node), now());
          }
          break;
        }
        if (std::string why = rotation::not_ours(s.kind, node, s.pending_key.get(), {result->request_pem, result->signer_name, result->usages});
            !why.empty()) {
          log::error("csr is not ours", {{"cert", kind_name}, {"csr", st.csr}, {"reason", why}});
          s.machine.rejected("a CSR named " + st.csr + " exists but " + why, now());
          break;
        }
        if (result->issued()) s.issued = *result;
        s.machine.observed(view_of(*result), now());
        break;
      }
      case Step::Kind::Await:
        co_await await_csr(s, st);
        break;
      case Step::Kind::Install:
        install(s, st);
        break;
      case Step::Kind::DiscardPending: {
        try {
          s.store.discard_pending_key();
          s.pending_key.reset();
          s.machine.discarded();
          log::info("pending key discarded", {{"cert", kind_name}, {"csr", st.csr},
                                              {"next_csr_not_before", s.machine.persistent().next_csr_not_before.value_or(now())}});
        } catch (const std::exception& e) {
          s.machine.failed(rotation::Failure{e.what(), true, false, std::nullopt}, now());
        }
        break;
      }
    }
  }

  asio::awaitable<void> await_csr(Slot& s, const Step& st) {
    const auto kind_name = to_string(s.kind);
    auto conn = connection(s);
    if (!conn) {
      s.machine.failed(rotation::Failure{conn.error(), true, false, std::nullopt}, now());
      co_return;
    }
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
    const auto started = now();
    auto result = co_await client->watch_csr(st.csr, st.resource_version, tuning.watch_timeout,
                                             tuning.watch_timeout + tuning.watch_grace, handler);
    s.active_request = nullptr;
    if (stop_requested) co_return;
    const auto t = now();
    if (verdict) {
      if (verdict->issued()) s.issued = *verdict;
      s.machine.observed(view_of(*verdict), t);
      co_return;
    }
    if (deleted) {
      log::warn("csr gone", {{"cert", kind_name}, {"csr", st.csr}});
      s.machine.gone(t);
      co_return;
    }
    if (expired) {
      // 410: our resourceVersion fell out of the watch window; GET, then watch from the new one.
      log::info("watch expired, relisting", {{"cert", kind_name}, {"csr", st.csr}});
      s.machine.watch_ended(true, t);
      co_return;
    }
    if (!result) {
      log::warn("watch failed", {{"cert", kind_name}, {"csr", st.csr}, {"error", result.error().describe()}});
      s.machine.failed(failure_from(result.error(), conn->as_node), t);
      co_return;
    }
    const bool long_enough = now() - started >= tuning.watch_timeout / 2;
    if (*result == api::WatchEnd::Silent) log::warn("watch silent, reconnecting", {{"cert", kind_name}, {"csr", st.csr}});
    s.machine.watch_ended(*result != api::WatchEnd::Silent && (events_seen > 0 || long_enough), t);
  }

  void install(Slot& s, const Step& st) {
    const auto kind_name = to_string(s.kind);
    const auto t = now();
    ensure_pending_key(s);
    if (!s.issued || s.issued->name != st.csr || !s.pending_key) {
      // Resumed without the certificate in memory: fetch it again.
      s.machine.watch_ended(true, t);
      return;
    }
    auto conn = connection(s);
    if (!conn) {
      s.machine.failed(rotation::Failure{conn.error(), true, false, std::nullopt}, t);
      return;
    }
    auto chain = rotation::parse_certificates_pem(s.issued->certificate_pem, "status.certificate of csr " + st.csr);
    if (!chain) {
      log::error("certificate rejected", {{"cert", kind_name}, {"csr", st.csr}, {"reason", chain.error()}});
      s.machine.rejected(chain.error(), t);
      return;
    }
    auto anchors = rotation::parse_certificates_pem(conn->endpoint.ca_pem, "cluster CA");
    if (!anchors) {
      s.machine.failed(rotation::Failure{anchors.error(), true, false, std::nullopt}, t);
      return;
    }
    auto verdict = rotation::validate_issued(*chain, rotation::policy_for(s.kind, node, s.pending_key.get(), *anchors, t));
    if (!verdict) {
      log::error("certificate rejected", {{"cert", kind_name}, {"csr", st.csr}, {"reason", verdict.error()}});
      s.machine.rejected(verdict.error(), t);
      return;
    }
    kcd::crash_point("cert-received");
    try {
      fs::path file = s.store.install(*chain, s.pending_key.get(), t);
      log::info("certificate installed", {{"cert", kind_name}, {"csr", st.csr}, {"path", file}, {"serial", verdict->serial},
                                          {"not_after", verdict->not_after}});
      if (s.kind == CertKind::Client) {
        if (auto written = write_kubeconfig(s, *conn); !written) throw std::runtime_error(written.error());
      }
      s.store.discard_pending_key();
      s.pending_key.reset();
      s.issued.reset();
      for (const auto& removed : s.store.prune(settings.keep_certificates)) {
        log::info("old certificate removed", {{"cert", kind_name}, {"path", removed}});
      }
      s.machine.installed(*verdict, t);
      if (s.kind == CertKind::Serving && events.serving_installed) events.serving_installed(file);
      if (s.kind == CertKind::Client) {
        // A serving request waiting for a client certificate can go now.
        if (auto& serving = slots[static_cast<int>(CertKind::Serving)]; serving && serving->machine.retry_now()) {
          serving->nudged = true;
          if (serving->sleeper) serving->sleeper->cancel();
        }
      }
      log::info("rotation scheduled", {{"cert", kind_name}, {"rotation_deadline", *s.machine.persistent().deadline}});
    } catch (const std::exception& e) {
      log::error("install failed", {{"cert", kind_name}, {"csr", st.csr}, {"error", e.what()}});
      s.machine.failed(rotation::Failure{e.what(), true, false, std::nullopt}, t);
    }
  }
};

Agent::Agent(asio::io_context& io, config::Settings settings, Tuning tuning, AgentEvents events, AgentEffects effects)
    : impl_(std::make_unique<Impl>(io, std::move(settings), tuning, std::move(events), std::move(effects))) {}

Agent::~Agent() = default;

asio::awaitable<void> Agent::run(CertKind kind) {
  Impl& im = *impl_;
  Impl::Slot& s = im.slot(kind);
  while (!im.stop_requested) {
    const Step st = s.machine.next(im.now());
    log::debug("step", {{"cert", to_string(kind)}, {"step", to_string(st.kind)}, {"phase", to_string(s.machine.phase())}});
    co_await im.step(s, st);
    im.persist(s);
    im.report(s);
  }
}

void Agent::stop() {
  impl_->stop_requested = true;
  for (auto& s : impl_->slots) {
    if (!s) continue;
    if (s->sleeper) s->sleeper->cancel();
    if (s->active_request) s->active_request->cancel();
  }
}

bool Agent::stopping() const { return impl_->stop_requested; }

void Agent::renew(CertKind kind) {
  auto& s = impl_->slot(kind);
  s.renew_requested = true;
  if (s.sleeper) s.sleeper->cancel();
}

const rotation::Lifecycle* Agent::lifecycle(CertKind kind) const {
  const auto& s = impl_->slots[static_cast<int>(kind)];
  return s ? &s->machine : nullptr;
}

}  // namespace kcd::daemon

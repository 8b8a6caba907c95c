#include "daemon/agent_driver.hpp"

#include "base/files.hpp"
#include "rotation/csr.hpp"
#include "rotation/csr_name.hpp"
#include "rotation/key.hpp"
#include "rotation/serving_approval.hpp"
#include "systemd/log.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kcd::daemon {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using rotation::CertKind;
using rotation::Step;
using SysClock = std::chrono::system_clock;

rotation::CsrView view_of(const api::Csr& csr) {
  rotation::CsrView v;
  v.resource_version = csr.resource_version;
  if (const api::CsrCondition* c = csr.terminal_condition()) {
    v.condition =
        c->type == "Denied" ? rotation::CsrView::Condition::Denied : rotation::CsrView::Condition::Failed;
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

namespace {

// The call made off the loop, built outside the coroutine that awaits it: GCC 12 mishandles
// lambda temporaries (with captures) in a co_await expression.
std::function<ossl::PKeyPtr(const std::atomic<bool>&)> key_generation(KeyGenerator generate,
                                                                      KeyAlgorithm algorithm) {
  return [generate = std::move(generate), algorithm](const std::atomic<bool>& stop) {
    return generate(algorithm, stop);
  };
}

}  // namespace

// Said before filing: the serving CSR as the approver will see it, judged by the approver's own
// rules (rotation::decide_serving_csr) against the Node's addresses. Only said: the CSR is
// filed whatever the verdict (the approver in the cluster decides; the rules may differ there).
asio::awaitable<void> AgentDriver::check_serving_request(CertificateRun& s, const std::string& csr,
                                                         const std::string& request_pem) {
  const auto kind_name = to_string(s.kind);
  auto conn = connection(s);
  if (!conn) co_return;  // Submit reports it
  api::Csr request;
  request.name = csr;
  request.signer_name = std::string(rotation::signer_name(s.kind));
  request.username = "system:node:" + settings.node_name;
  request.groups = {"system:nodes", "system:authenticated"};
  request.usages = rotation::usages_for(s.kind);
  request.expiration_seconds = settings.serving_expiration_seconds;
  request.request_pem = request_pem;
  auto client = effects.csr_api(conn->endpoint, conn->credentials);
  s.active_request = client.get();
  auto own = co_await client->get_node(settings.node_name);
  s.active_request = nullptr;
  if (stop_requested) co_return;
  std::optional<std::vector<rotation::NodeAddress>> addresses;
  if (own) {
    addresses = own->addresses;
  } else if (own.error().kind != ErrorKind::NotFound) {
    log::warn("serving request approver pre-check skipped",
              {{"cert", kind_name},
               {"csr", csr},
               {"why", "node " + settings.node_name + " not read"},
               {"error", own.error().format()}});
    co_return;
  }
  const rotation::ServingDecision d = rotation::decide_serving_csr(api::serving_csr_of(request), addresses,
                                                                   rotation::ServingApprovalPolicy{});
  switch (d.verdict) {
    case rotation::Verdict::Approve:
      log::info("serving request passes the approver rules", {{"cert", kind_name}, {"csr", csr}});
      break;
    case rotation::Verdict::Deny:
      log::warn("serving request breaks an approver rule",
                {{"cert", kind_name}, {"csr", csr}, {"rule", d.reason}, {"message", d.message}});
      break;
    case rotation::Verdict::Wait:
    case rotation::Verdict::NotOurs:
      log::info("serving request approver pre-check cannot decide yet",
                {{"cert", kind_name}, {"csr", csr}, {"reason", d.reason}, {"message", d.message}});
      break;
  }
}

asio::awaitable<void> AgentDriver::step(CertificateRun& s, const Step& st) {
  const auto kind_name = to_string(s.kind);
  switch (st.kind) {
    case Step::Kind::Inspect: {
      s.machine.inspected(inspect(s), now());
      if (s.machine.phase() == rotation::Phase::Idle && s.machine.current()) {
        const auto& info = *s.machine.current();
        log::info("certificate valid", {{"cert", kind_name},
                                        {"path", s.store->current_path()},
                                        {"not_after", info.not_after},
                                        {"rotation_deadline", *s.machine.persistent().deadline}});
      }
      break;
    }
    case Step::Kind::WriteKubeconfig: {
      auto conn = connection_or_failed(s);
      if (!conn) break;
      if (auto written = write_kubeconfig(s, *conn); written) {
        s.machine.kubeconfig_written();
      } else {
        s.machine.failed(written.error(), now());
      }
      break;
    }
    case Step::Kind::Sleep: {
      if (st.at > now()) {
        if (s.machine.phase() == rotation::Phase::Backoff) {
          log::info("retrying later",
                    {{"cert", kind_name},
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
      // At every rotation, before the request: a certificate from a new signer is installed only
      // once the node trusts the bundle that has its CA.
      if (settings.follow_cluster_ca) {
        co_await check_cluster_ca(s.kind);
        if (stop_requested) break;
      }
      if (s.kind == CertKind::Serving && settings.serving_ips.empty()) {
        s.machine.failed(
            config_error(Location{{}, 0, 0, "servingIPs"},
                         "empty (the host has no non-loopback address): the kubelet and every approver need "
                         "at least one IP SAN; set servingIPs or --serving=false"),
            now());
        break;
      }
      {
        // RSA-4096 takes seconds: generated off the loop, abandoned on stop().
        trace_phase(s.kind, "key-start");
        auto work = key_generation(effects.generate_key, settings.key_algorithm);
        auto generated =
            co_await keygen_calls.call<ossl::PKeyPtr>(std::move(work), kKeyGenerationDeadline, &s.off_loop);
        if (stop_requested) break;
        if (generated.end != OffLoopEnd::Done || !*generated.value) {
          s.machine.failed(make_error(ErrorKind::Crypto,
                                      "key generation (" + std::string(to_string(settings.key_algorithm)) +
                                          ") did not finish within " +
                                          std::to_string(kKeyGenerationDeadline.count()) + " min"),
                           now());
          break;
        }
        ossl::PKeyPtr key = std::move(*generated.value);
        if (auto saved = s.store->save_pending_key(key.get()); !saved) {
          log::error("pending key not written", {{"cert", kind_name},
                                                 {"path", s.store->pending_key_path()},
                                                 {"error", saved.error().format()}});
          s.machine.failed(saved.error(), now());
          break;
        }
        kcd::crash_point("key-written");
        trace_phase(s.kind, "key-saved");
        rotation::PendingCsr p;
        p.name =
            rotation::csr_name(key.get(), rotation::request_for(s.kind, node), rotation::usages_for(s.kind));
        p.key_sha256 = rotation::public_key_fingerprint(key.get());
        s.pending_key = std::move(key);
        log::info("key generated", {{"cert", kind_name},
                                    {"algorithm", to_string(settings.key_algorithm)},
                                    {"path", s.store->pending_key_path()},
                                    {"reason", st.reason}});
        s.machine.key_ready(p);
      }
      break;
    }
    case Step::Kind::Submit: {
      ensure_pending_key(s);
      auto conn = connection_or_failed(s);
      if (!conn) break;
      auto request_pem = rotation::build_csr_pem(s.pending_key.get(), rotation::request_for(s.kind, node));
      if (!request_pem) {
        s.machine.failed(request_pem.error(), now());
        break;
      }
      if (s.kind == CertKind::Serving && s.prechecked != st.csr) {
        s.prechecked = st.csr;
        co_await check_serving_request(s, st.csr, *request_pem);
        if (stop_requested) break;
      }
      api::CsrCreate req;
      req.name = st.csr;
      req.request_pem = std::move(*request_pem);
      req.signer_name = std::string(rotation::signer_name(s.kind));
      req.usages = rotation::usages_for(s.kind);
      req.expiration_seconds = s.kind == CertKind::Client ? settings.client_expiration_seconds
                                                          : settings.serving_expiration_seconds;
      auto client = effects.csr_api(conn->endpoint, conn->credentials);
      s.active_request = client.get();
      trace_phase(s.kind, "post-start");
      auto result = co_await client->create_csr(req);
      trace_phase(s.kind, "post-end");
      s.active_request = nullptr;
      if (stop_requested) break;
      if (result) {
        kcd::crash_point("csr-filed");
        log::info("csr filed", {{"cert", kind_name},
                                {"csr", st.csr},
                                {"signer", req.signer_name},
                                {"auth", conn->auth_description}});
        if (result->issued()) s.issued = *result;
        saw_csr(s, *result);
        s.machine.submitted(view_of(*result), now());
      } else if (result.error().kind == ErrorKind::AlreadyExists) {
        log::info("csr exists, resuming", {{"cert", kind_name}, {"csr", st.csr}});
        s.machine.already_exists();
      } else {
        log::warn("csr not filed",
                  {{"cert", kind_name}, {"csr", st.csr}, {"error", result.error().format()}});
        s.machine.failed(result.error(), now(), conn->as_node);
      }
      break;
    }
    case Step::Kind::Lookup: {
      ensure_pending_key(s);
      auto conn = connection_or_failed(s);
      if (!conn) break;
      auto client = effects.csr_api(conn->endpoint, conn->credentials);
      s.active_request = client.get();
      auto result = co_await client->get_csr(st.csr);
      s.active_request = nullptr;
      if (stop_requested) break;
      if (!result) {
        if (result.error().kind == ErrorKind::NotFound) {
          log::warn("csr gone", {{"cert", kind_name}, {"csr", st.csr}});
          s.machine.gone(now());
        } else {
          s.machine.failed(result.error(), now(), conn->as_node);
        }
        break;
      }
      if (auto ours = rotation::verify_ours(s.kind, node, s.pending_key.get(),
                                            {result->request_pem, result->signer_name, result->usages});
          !ours) {
        const std::string& why = ours.error().message;
        log::error("csr is not ours", {{"cert", kind_name}, {"csr", st.csr}, {"reason", why}});
        s.machine.rejected("a CSR named " + st.csr + " exists but " + why, now());
        break;
      }
      if (result->issued()) s.issued = *result;
      saw_csr(s, *result);
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
      // Durable: a denied or vanished CSR's key must not come back and be filed again.
      if (auto removed = s.store->discard_pending_key(Sync::Durable); !removed) {
        s.machine.failed(removed.error(), now());
        break;
      }
      s.pending_key.reset();
      s.machine.discarded();
      log::info("pending key discarded",
                {{"cert", kind_name},
                 {"csr", st.csr},
                 {"next_csr_not_before", s.machine.persistent().next_csr_not_before.value_or(now())}});
      break;
    }
  }
}

rotation::Inspection AgentDriver::inspect(CertificateRun& s) {
  load_state_once();
  rotation::Inspection ins;
  ins.persisted = state.of(s.kind);
  ins.persisted.pending.reset();
  const auto t = now();

  auto conn = connection(s);
  std::vector<ossl::X509Ptr> anchors;
  if (conn) {
    auto parsed = rotation::parse_certificates_pem(conn->endpoint.ca_pem, "cluster CA",
                                                   rotation::kMaxBundleCertificates);
    if (parsed) anchors = std::move(*parsed);
  }

  auto current = s.store->load_current();
  if (!current) {
    ins.renew_reason = "current certificate unusable: " + current.error().format();
    log::warn("current certificate unusable", {{"cert", to_string(s.kind)},
                                               {"path", s.store->current_path()},
                                               {"error", current.error().format()}});
  } else if (!current->has_value()) {
    ins.renew_reason = "no certificate";
  } else {
    const rotation::InstalledPair& pair = **current;
    if (t < pair.info.not_after) ins.current = pair.info;
    auto usable =
        rotation::verify_usable(s.kind, node, pair.chain, pair.key.get(), pair.info.not_after, anchors, t);
    if (!usable) {
      ins.renew_reason = usable.error().message;
      log::info("current certificate must be replaced",
                {{"cert", to_string(s.kind)}, {"path", pair.file}, {"reason", ins.renew_reason}});
    }
  }

  auto pending = s.store->load_pending_key();
  s.pending_key.reset();
  if (!pending) {
    log::warn("pending key unusable, discarding it", {{"cert", to_string(s.kind)},
                                                      {"path", s.store->pending_key_path()},
                                                      {"error", pending.error().format()}});
    discard_pending_key_logged(s);
  } else if (pending->has_value()) {
    s.pending_key = std::move(**pending);
    bool leftover = false;
    if (current && current->has_value() &&
        rotation::same_public_key((**current).key.get(), s.pending_key.get())) {
      // Installed, but we stopped before removing the pending copy.
      leftover = true;
    }
    if (leftover) {
      discard_pending_key_logged(s);
      s.pending_key.reset();
    } else {
      rotation::PendingCsr p;
      p.name = rotation::csr_name(s.pending_key.get(), rotation::request_for(s.kind, node),
                                  rotation::usages_for(s.kind));
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

asio::awaitable<void> AgentDriver::sleep_until(CertificateRun& s, SysTime at) {
  asio::steady_timer timer(io);
  s.sleeper = &timer;
  while (!stop_requested && !s.renew_requested && !s.nudged) {
    auto t = now();
    if (t >= at) break;
    // Wall-clock deadlines: wake at least every max_sleep_chunk to notice clock jumps and
    // suspend, which a steady timer alone would not.
    auto wait = std::min<SysClock::duration>(at - t, timings.max_sleep_chunk);
    timer.expires_after(effects.clock->pass(wait));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  s.sleeper = nullptr;
  s.nudged = false;
}

void AgentDriver::discard_pending_key_logged(CertificateRun& s) {
  // Not fatal here: a key that stays is found and judged again at the next inspection.
  if (auto removed = s.store->discard_pending_key(Sync::Durable); !removed)
    log::warn("pending key not removed", {{"cert", to_string(s.kind)}, {"error", removed.error().format()}});
}

void AgentDriver::ensure_pending_key(CertificateRun& s) {
  if (s.pending_key) return;
  auto loaded = s.store->load_pending_key();
  if (loaded && loaded->has_value()) s.pending_key = std::move(**loaded);
}

}  // namespace kcd::daemon

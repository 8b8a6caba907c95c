// The fleet simulator's event loop: the driver of each Lifecycle (mirroring daemon/agent.cpp),
// the API server with its controllers and csrcleaner, and the figures they produce.
#include "tests/fleetsim/fleet.hpp"

#include "config/settings.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <numeric>
#include <queue>
#include <stdexcept>

namespace kcd::fleetsim {

using rotation::CertKind;
using rotation::CsrView;
using rotation::Phase;
using rotation::Step;
using namespace std::chrono_literals;

rotation::LifecyclePolicy production_policy() {
  // As AgentDriver::run_of(): window and csrCreateInterval from the settings, backoff from AgentTimings.
  const config::Settings settings;
  rotation::LifecyclePolicy policy;
  policy.window = {settings.rotation_window_from, settings.rotation_window_to};
  policy.csr_create_interval = settings.csr_create_interval;
  policy.backoff = rotation::BackoffPolicy{};
  return policy;
}

SysTime epoch() {
  return std::chrono::sys_days{std::chrono::year{2030} / 1 / 1};
}

namespace {

// xoshiro256** seeded through splitmix64: fast, and a separate stream per lifecycle keeps a
// node's draws independent of the order in which the fleet's events interleave.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& word : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {  // Box-Muller; one of the pair is enough here
    const double u1 = 1.0 - uniform01();
    const double u2 = uniform01();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

using Ticks = SysTime::duration::rep;
Ticks ticks(SysTime t) {
  return t.time_since_epoch().count();
}
SysTime at_ticks(Ticks t) {
  return SysTime(SysTime::duration(t));
}

enum class EventKind : std::uint8_t {
  Wake,
  WatchTimeout,
  CsrDecide,
  CsrSign,
  Cleaner,
  OutageStart,
  DisturbanceStart,
  DisturbanceEnd
};

struct Event {
  Ticks at;
  std::uint32_t target;
  std::uint32_t generation;
  EventKind kind;
};

struct Later {
  bool operator()(const Event& a, const Event& b) const { return a.at > b.at; }
};

// A CertificateSigningRequest object as the API server stores it.
struct CsrObject {
  enum class State : std::uint8_t { Pending, Approved, Issued, Denied };
  std::uint32_t run = 0;         // index of the CertificateRun that filed it
  std::uint32_t generation = 0;  // bumped when the entry is reused for another object
  bool live = false;
  bool will_deny = false;
  State state = State::Pending;
  std::uint32_t live_index = 0;  // position in Fleet::live_csrs_
  std::uint64_t rv_created = 0, rv_decided = 0, rv_issued = 0;
  SysTime created, decided_at, issued_at;
  SysTime sign_at;     // when the signer will issue it (drawn at creation, as the decision)
  SysTime verdict_at;  // when the watch of its owner ends with a verdict: denial or certificate
};

// The driver's side of one lifecycle, named as daemon/agent_driver.hpp names it: what the agent
// keeps per certificate, plus the disk.
struct CertificateRun {
  CertificateRun(rotation::Lifecycle m, int n, CertKind k) : machine(std::move(m)), node(n), kind(k) {}
  rotation::Lifecycle machine;
  int node = 0;
  CertKind kind = CertKind::Client;
  std::uint32_t wake_generation = 0;  // a wakeup carrying an older generation is stale
  std::uint32_t watch_generation = 0;
  std::int64_t csr = -1;  // the CSR object filed with the pending key
  std::uint32_t csr_generation = 0;
  std::string filed_name;
  bool watching = false;
  bool approved_logged = false;  // per watch, as the agent's handler
  bool issued = false;           // the issued certificate is in memory (agent: s.issued)
  SysTime issued_at;
  std::optional<rotation::CertInfo> on_disk;  // what Inspect finds at the start
  bool has_certificate = false;
  SysTime not_after;
  bool idle = false;
  bool disturbed = false;
  std::uint64_t keys = 0;
};

class Fleet {
 public:
  explicit Fleet(const FleetConfig& config) : config_(config), server_rng_(config.seed * 2 + 1) {
    report_.config = config;
    end_ = epoch() + config.duration;
    const auto minutes = static_cast<std::size_t>(config.duration / 1min) + 1;
    for (auto* v : {&series().csrs_created, &series().requests, &series().throttled, &series().refused,
                    &series().stored}) {
      v->assign(minutes, 0);
    }
    // A quarter of the shipped rotation window (20 % of the lifetime): wide enough that the
    // rotations counted in one bucket are many (sampling noise well under the 10 % the spread
    // promise allows), narrow enough that a cluster in the window shows.
    report_.rotation_bucket = config.lifetime / 20;
    if (report_.rotation_bucket.count() > 0)
      rotation_buckets_.assign(static_cast<std::size_t>(config.duration / report_.rotation_bucket) + 1, 0);
    stored_per_node_.assign(static_cast<std::size_t>(config.nodes), 0);
    build_runs();
    schedule_fleet_events();
  }

  FleetReport run() {
    while (!events_.empty()) {
      const Event ev = events_.top();
      if (ev.at > ticks(end_)) break;
      events_.pop();
      ++report_.events;
      dispatch(ev, at_ticks(ev.at));
    }
    finish();
    return std::move(report_);
  }

 private:
  MinuteSeries& series() { return report_.series; }

  // ---- setup -------------------------------------------------------------------------

  void build_runs() {
    const auto count = static_cast<std::size_t>(config_.nodes) * 2;
    rngs_.reserve(count);
    runs_.reserve(count);
    Rng start_rng(config_.seed * 2);
    for (int node = 0; node < config_.nodes; ++node) {
      const auto spread = std::chrono::duration_cast<SysTime::duration>(config_.start_spread);
      const auto offset =
          SysTime::duration(static_cast<Ticks>(start_rng.uniform01() * static_cast<double>(spread.count())));
      for (CertKind kind : {CertKind::Client, CertKind::Serving}) {
        rngs_.push_back(
            std::make_unique<Rng>(config_.seed * 0x100000001b3ULL + runs_.size() * 0x9e3779b97f4a7c15ULL));
        Rng* rng = rngs_.back().get();
        runs_.emplace_back(rotation::Lifecycle(kind, config_.policy, [rng] { return rng->uniform01(); }),
                           node, kind);
        CertificateRun& s = runs_.back();
        if (config_.start == Start::Issued) {
          // Both certificates were issued together at epoch - offset; the agents start at the epoch.
          s.on_disk =
              certificate(epoch() - offset, std::to_string(node) + (kind == CertKind::Client ? "c0" : "s0"));
          s.has_certificate = true;
          s.not_after = s.on_disk->not_after;
          wake(s, epoch());
        } else {
          wake(s, epoch() + offset);
        }
      }
    }
    non_idle_ = static_cast<long>(runs_.size());
  }

  void schedule_fleet_events() {
    const auto period = std::chrono::duration_cast<SysTime::duration>(config_.api.cleaner_period);
    // csrcleaner started at some moment of its hour: its first poll is anywhere in the first period.
    const SysTime first_poll =
        epoch() +
        SysTime::duration(static_cast<Ticks>(server_rng_.uniform01() * static_cast<double>(period.count())));
    push(first_poll, EventKind::Cleaner, 0, 0);
    for (std::uint32_t i = 0; i < config_.api.outages.size(); ++i)
      push(config_.api.outages[i].from, EventKind::OutageStart, i, 0);
    if (config_.disturbance) {
      push(config_.disturbance->from, EventKind::DisturbanceStart, 0, 0);
      push(config_.disturbance->to, EventKind::DisturbanceEnd, 0, 0);
    }
  }

  rotation::CertInfo certificate(SysTime signed_at, std::string fingerprint) const {
    // Only what Lifecycle reads: validity and the fingerprint its deadline is bound to.
    rotation::CertInfo info;
    info.not_before = signed_at - config_.api.signer_backdate;
    info.not_after = signed_at + config_.lifetime;
    info.sha256_fingerprint = std::move(fingerprint);
    return info;
  }

  // ---- the event queue ---------------------------------------------------------------

  void push(SysTime at, EventKind kind, std::uint32_t target, std::uint32_t generation) {
    events_.push(Event{ticks(at), target, generation, kind});
  }

  std::uint32_t index_of(const CertificateRun& s) const {
    return static_cast<std::uint32_t>(&s - runs_.data());
  }

  void wake(CertificateRun& s, SysTime at) { push(at, EventKind::Wake, index_of(s), ++s.wake_generation); }

  void dispatch(const Event& ev, SysTime now) {
    switch (ev.kind) {
      case EventKind::Wake: {
        CertificateRun& s = runs_[ev.target];
        if (ev.generation == s.wake_generation && !s.watching) drive(s, now);
        break;
      }
      case EventKind::WatchTimeout: {
        CertificateRun& s = runs_[ev.target];
        if (!s.watching || ev.generation != s.watch_generation) break;
        // timeoutSeconds reached: the agent counts a watch that lasted long enough as progress.
        end_watch(s);
        s.machine.watch_ended(true, now);
        drive(s, now);
        break;
      }
      case EventKind::CsrDecide:
        decide(ev.target, ev.generation, now);
        break;
      case EventKind::CsrSign:
        sign(ev.target, ev.generation, now);
        break;
      case EventKind::Cleaner:
        clean(now);
        push(now + config_.api.cleaner_period, EventKind::Cleaner, 0, 0);
        break;
      case EventKind::OutageStart:
        break_watches(now);
        break;
      case EventKind::DisturbanceStart:
        for (CertificateRun& s : runs_) track(s, now);
        break;
      case EventKind::DisturbanceEnd:
        if (disturbed_now_ == 0 && !recovered_at_) recovered_at_ = now;
        break;
    }
  }

  // ---- the driver: one lifecycle's steps, as Agent::run and AgentDriver::step ------------

  void drive(CertificateRun& s, SysTime now) {
    for (int guard = 0;; ++guard) {
      if (guard > 64) throw std::logic_error("a lifecycle asked for 64 steps without waiting");
      track(s, now);
      const Step st = s.machine.next(now);
      ++report_.lifecycle_steps;
      switch (st.kind) {
        case Step::Kind::Inspect:
          s.machine.inspected(inspect(s, now), now);
          break;
        case Step::Kind::WriteKubeconfig:
          s.machine.kubeconfig_written();
          break;
        case Step::Kind::Sleep:
          if (st.at > now) {
            wake(s, st.at);
            track(s, now);
            return;
          }
          s.machine.woke(now);
          break;
        case Step::Kind::GenerateKey: {
          // No real key: a name unique to this key stands for the name csr_name() derives from it.
          rotation::PendingCsr pending;
          pending.name =
              std::to_string(s.node) + (s.kind == CertKind::Client ? "c" : "s") + std::to_string(++s.keys);
          pending.key_sha256 = pending.name;
          s.machine.key_ready(pending);
          break;
        }
        case Step::Kind::Submit:
          submit(s, st, now);
          break;
        case Step::Kind::Lookup:
          lookup(s, st, now);
          break;
        case Step::Kind::Await:
          if (await(s, st, now)) {
            track(s, now);
            return;
          }
          break;
        case Step::Kind::Install:
          install(s, st, now);
          break;
        case Step::Kind::DiscardPending:
          s.issued = false;
          s.machine.discarded();
          break;
      }
    }
  }

  rotation::Inspection inspect(const CertificateRun& s, SysTime now) const {
    rotation::Inspection ins;
    if (s.on_disk && now < s.on_disk->not_after) {
      ins.current = s.on_disk;
    } else {
      ins.renew_reason = s.on_disk ? "certificate expired" : "no certificate";
    }
    return ins;
  }

  const CertificateRun& client_of(const CertificateRun& s) const { return runs_[index_of(s) & ~1U]; }
  CertificateRun& serving_of(const CertificateRun& s) { return runs_[index_of(s) | 1U]; }

  // AgentDriver::connection(): the serving request goes out as the node, with a valid client
  // certificate; the client request falls back to the bootstrap token (always valid here).
  bool no_connection(CertificateRun& s, SysTime now) {
    if (s.kind != CertKind::Serving) return false;
    const auto& current = client_of(s).machine.current();
    if (current && now < current->not_after) return false;
    s.machine.failed(
        make_error(ErrorKind::Io,
                   "waiting for a valid client certificate to request the serving certificate as the node"),
        now);
    return true;
  }

  enum class Answer { Served, Throttled, Refused };

  std::size_t minute_of(SysTime t) const {
    const auto m = static_cast<std::size_t>(std::max<Ticks>(0, (t - epoch()) / 1min));
    return std::min(m, report_.series.requests.size() - 1);
  }

  bool api_down(SysTime t) const { return in_any(config_.api.outages, t); }

  Answer request(SysTime now) {
    const std::size_t m = minute_of(now);
    if (api_down(now)) {
      ++report_.refused;
      ++series().refused[m];
      return Answer::Refused;
    }
    ++report_.api_requests;
    ++series().requests[m];
    if (non_idle_ == 0) ++idle_requests_;
    const Ticks second = ticks(now) / std::chrono::duration_cast<SysTime::duration>(1s).count();
    if (second != current_second_) {
      current_second_ = second;
      served_this_second_ = 0;
    }
    if (served_this_second_ >= config_.api.capacity_per_second) {
      ++report_.throttled;
      ++series().throttled[m];
      return Answer::Throttled;
    }
    ++served_this_second_;
    return Answer::Served;
  }

  // The two errors modelled, as the API client reports them: a refused connection is a Network error
  // without Retry-After; a 429 carries Retry-After. base/error's policy makes both retryable.
  Error failure_for(Answer answer) const {
    if (answer == Answer::Refused) {
      return make_error(ErrorKind::Network, "connect https://api:6443: connection refused");
    }
    Error e = make_error(ErrorKind::TooManyRequests, "too many requests, please try again later");
    e.code = 429;
    e.reason = "TooManyRequests";
    e.retry_after = config_.api.retry_after;
    return e;
  }

  // One request of the run's, as the agent makes it; false when it failed (and the lifecycle
  // was told, as the agent tells it).
  bool send(CertificateRun& s, SysTime now) {
    if (no_connection(s, now)) return false;
    const Answer answer = request(now);
    if (answer == Answer::Served) return true;
    s.machine.failed(failure_for(answer), now);
    return false;
  }

  CsrObject* filed_csr(const CertificateRun& s, const std::string& name) {
    if (s.csr < 0 || name != s.filed_name) return nullptr;
    CsrObject& c = csrs_[static_cast<std::size_t>(s.csr)];
    return c.live && c.generation == s.csr_generation ? &c : nullptr;
  }

  static CsrView view_of(const CsrObject& c, CsrObject::State as_of) {
    CsrView v;
    switch (as_of) {
      case CsrObject::State::Pending:
        v.condition = CsrView::Condition::Pending;
        break;
      case CsrObject::State::Approved:
        v.condition = CsrView::Condition::Approved;
        break;
      case CsrObject::State::Issued:
        v.condition = CsrView::Condition::Issued;
        break;
      case CsrObject::State::Denied:
        v.condition = CsrView::Condition::Denied;
        v.reason = "SimulatedDenial";
        v.message = "denied by the serving approver";
        break;
    }
    const std::uint64_t rv = as_of == CsrObject::State::Pending  ? c.rv_created
                             : as_of == CsrObject::State::Issued ? c.rv_issued
                                                                 : c.rv_decided;
    v.resource_version = std::to_string(rv);
    return v;
  }

  void observe(CertificateRun& s, const CsrObject& c, CsrObject::State as_of, SysTime now) {
    if (as_of == CsrObject::State::Issued) {
      s.issued = true;
      s.issued_at = c.issued_at;
    }
    s.machine.observed(view_of(c, as_of), now);
  }

  void submit(CertificateRun& s, const Step& st, SysTime now) {
    if (!send(s, now)) return;
    const CsrObject& c = create_csr(s, now);
    s.filed_name = st.csr;
    s.issued = false;
    s.machine.submitted(view_of(c, c.state), now);
  }

  void lookup(CertificateRun& s, const Step& st, SysTime now) {
    if (!send(s, now)) return;
    const CsrObject* c = filed_csr(s, st.csr);
    if (c == nullptr) {
      s.machine.gone(now);
      return;
    }
    observe(s, *c, c->state, now);
  }

  // Opens a watch from the step's resourceVersion; true when it stays open (the run waits).
  bool await(CertificateRun& s, const Step& st, SysTime now) {
    if (!send(s, now)) return false;
    s.approved_logged = false;
    const CsrObject* c = filed_csr(s, st.csr);
    if (c == nullptr) {  // the DELETED event is replayed
      s.machine.gone(now);
      return false;
    }
    std::uint64_t from = 0;
    std::from_chars(st.resource_version.data(), st.resource_version.data() + st.resource_version.size(),
                    from);
    // Events since `from` arrive at once, in order: approval (or denial), then the certificate.
    if (c->rv_decided > from) {
      if (c->state == CsrObject::State::Denied) {
        observe(s, *c, CsrObject::State::Denied, now);
        return false;
      }
      s.approved_logged = true;
      observe(s, *c, CsrObject::State::Approved, now);
    }
    if (c->rv_issued > from) {
      observe(s, *c, CsrObject::State::Issued, now);
      return false;
    }
    s.watching = true;
    ++s.watch_generation;
    // A watch that the verdict ends first needs no timeout event (a quarter of all events).
    if (c->verdict_at >= now + config_.api.watch_timeout) {
      push(now + config_.api.watch_timeout, EventKind::WatchTimeout, index_of(s), s.watch_generation);
    }
    return true;
  }

  void end_watch(CertificateRun& s) {
    s.watching = false;
    ++s.watch_generation;
  }

  void install(CertificateRun& s, const Step& st, SysTime now) {
    if (!s.issued || st.csr != s.filed_name) {
      s.machine.watch_ended(true, now);  // resumed without the certificate in memory: fetch it
      return;
    }
    if (no_connection(s, now)) return;
    rotation::CertInfo info = certificate(s.issued_at, st.csr);
    if (s.has_certificate && now >= s.not_after) record_expiry(s, now);
    s.issued = false;
    s.has_certificate = true;
    s.not_after = info.not_after;
    s.machine.installed(info, now);
    ++report_.installs;
    if (s.disturbed) {
      s.disturbed = false;
      if (--disturbed_now_ == 0 && config_.disturbance && now >= config_.disturbance->to && !recovered_at_)
        recovered_at_ = now;
    }
    if (s.kind == CertKind::Client) {
      // A serving request waiting for a client certificate can go now (agent: nudged).
      CertificateRun& serving = serving_of(s);
      if (serving.machine.retry_now()) wake(serving, now);
    }
  }

  // ---- the API server's CSR objects and controllers ----------------------------------

  Millis draw(const Latency& l) {
    const double ms = static_cast<double>(l.median.count()) * std::exp(l.sigma * server_rng_.normal());
    return Millis(static_cast<Millis::rep>(std::min(ms, 3.6e6)));
  }

  // When a controller acts on something due at `at`: not while the API server is down, and
  // (for the serving approver) not while the approver is down; then after its usual latency.
  SysTime controller_time(SysTime at, const Latency& latency, bool serving_approver) {
    for (bool moved = true; moved;) {
      moved = false;
      for (const Window& w : config_.api.outages) {
        if (w.contains(at)) at = w.to + draw(latency), moved = true;
      }
      if (!serving_approver) continue;
      for (const Window& w : config_.api.serving_approver_down) {
        if (w.contains(at)) at = w.to + draw(latency), moved = true;
      }
    }
    return at;
  }

  const CsrObject& create_csr(CertificateRun& s, SysTime now) {
    std::size_t id;
    if (!free_csrs_.empty()) {
      id = free_csrs_.back();
      free_csrs_.pop_back();
    } else {
      id = csrs_.size();
      csrs_.emplace_back();
    }
    CsrObject& c = csrs_[id];
    const std::uint32_t generation = c.generation + 1;
    c = CsrObject{};
    c.generation = generation;
    c.run = index_of(s);
    c.live = true;
    c.created = now;
    c.rv_created = ++resource_version_;
    c.live_index = static_cast<std::uint32_t>(live_csrs_.size());
    live_csrs_.push_back(static_cast<std::uint32_t>(id));
    const bool serving = s.kind == CertKind::Serving;
    c.will_deny = serving && server_rng_.uniform01() < config_.api.deny_share;
    const Latency& latency = serving ? config_.api.approve_serving : config_.api.approve_client;
    const SysTime decide_at = controller_time(now + draw(latency), latency, serving);
    c.sign_at = controller_time(decide_at + draw(config_.api.sign), config_.api.sign, false);
    c.verdict_at = c.will_deny ? decide_at : c.sign_at;
    push(decide_at, EventKind::CsrDecide, static_cast<std::uint32_t>(id), generation);
    s.csr = static_cast<std::int64_t>(id);
    s.csr_generation = generation;

    ++report_.csrs_created;
    ++series().csrs_created[minute_of(now)];
    if (s.has_certificate && !rotation_buckets_.empty()) {
      ++rotation_buckets_[std::min(rotation_buckets_.size() - 1,
                                   static_cast<std::size_t>((now - epoch()) / report_.rotation_bucket))];
    }
    auto& per_node = stored_per_node_[static_cast<std::size_t>(s.node)];
    ++per_node;
    report_.max_stored_csrs_per_node = std::max<int>(report_.max_stored_csrs_per_node, per_node);
    set_stored(static_cast<long>(live_csrs_.size()), now);
    return c;
  }

  CsrObject* csr_if_live(std::uint32_t id, std::uint32_t generation) {
    CsrObject& c = csrs_[id];
    return c.live && c.generation == generation ? &c : nullptr;
  }

  // The run watching this CSR, if any.
  CertificateRun* watcher(const CsrObject& c, std::uint32_t id) {
    CertificateRun& s = runs_[c.run];
    return s.watching && s.csr == static_cast<std::int64_t>(id) && s.csr_generation == c.generation ? &s
                                                                                                    : nullptr;
  }

  void decide(std::uint32_t id, std::uint32_t generation, SysTime now) {
    CsrObject* c = csr_if_live(id, generation);
    if (c == nullptr) return;  // garbage-collected while pending
    c->decided_at = now;
    c->rv_decided = ++resource_version_;
    CertificateRun* s = watcher(*c, id);
    if (c->will_deny) {
      c->state = CsrObject::State::Denied;
      ++report_.denied;
      if (s != nullptr) {
        end_watch(*s);
        observe(*s, *c, CsrObject::State::Denied, now);
        drive(*s, now);
      }
      return;
    }
    c->state = CsrObject::State::Approved;
    push(c->sign_at, EventKind::CsrSign, id, generation);
    if (s != nullptr && !s->approved_logged) {
      s->approved_logged = true;
      observe(*s, *c, CsrObject::State::Approved, now);
    }
  }

  void sign(std::uint32_t id, std::uint32_t generation, SysTime now) {
    CsrObject* c = csr_if_live(id, generation);
    if (c == nullptr) return;
    c->state = CsrObject::State::Issued;
    c->issued_at = now;
    c->rv_issued = ++resource_version_;
    if (CertificateRun* s = watcher(*c, id)) {
      end_watch(*s);
      observe(*s, *c, CsrObject::State::Issued, now);
      drive(*s, now);
    }
  }

  // csrcleaner: isIssuedPastDeadline, isDeniedPastDeadline, isPendingPastDeadline.
  void clean(SysTime now) {
    if (api_down(now)) return;
    std::vector<std::uint32_t> doomed;
    for (std::uint32_t id : live_csrs_) {
      const CsrObject& c = csrs_[id];
      const bool decided = c.state == CsrObject::State::Issued || c.state == CsrObject::State::Denied;
      if ((decided && now - c.decided_at > config_.api.decided_expiration) ||
          (c.state == CsrObject::State::Pending && now - c.created > config_.api.pending_expiration)) {
        doomed.push_back(id);
      }
    }
    for (std::uint32_t id : doomed) delete_csr(id, now);
  }

  void delete_csr(std::uint32_t id, SysTime now) {
    CsrObject& c = csrs_[id];
    c.live = false;
    ++report_.garbage_collected;
    const std::uint32_t moved = live_csrs_.back();
    live_csrs_[c.live_index] = moved;
    csrs_[moved].live_index = c.live_index;
    live_csrs_.pop_back();
    free_csrs_.push_back(id);
    --stored_per_node_[static_cast<std::size_t>(runs_[c.run].node)];
    set_stored(static_cast<long>(live_csrs_.size()), now);
    if (CertificateRun* s = watcher(c, id)) {  // the DELETED event
      end_watch(*s);
      s->machine.gone(now);
      drive(*s, now);
    }
  }

  void break_watches(SysTime now) {
    for (CertificateRun& s : runs_) {
      if (!s.watching) continue;
      end_watch(s);
      s.machine.failed(
          make_error(ErrorKind::Network, "watch of csr " + s.filed_name + ": connection reset by peer"), now);
      drive(s, now);
    }
  }

  // ---- figures -----------------------------------------------------------------------

  void set_stored(long stored, SysTime now) {
    report_.max_stored_csrs = std::max(report_.max_stored_csrs, stored);
    const std::size_t m = minute_of(now);
    for (std::size_t i = stored_filled_ + 1; i < m; ++i)
      series().stored[i] = static_cast<std::uint32_t>(last_stored_);
    series().stored[m] = std::max(series().stored[m], static_cast<std::uint32_t>(stored));
    stored_filled_ = std::max(stored_filled_, m);
    last_stored_ = stored;
  }

  // After each step: idle stretches of the fleet, and which certificates the disturbance touched.
  void track(CertificateRun& s, SysTime now) {
    const bool idle = s.machine.phase() == Phase::Idle;
    if (idle != s.idle) {
      s.idle = idle;
      if (idle && --non_idle_ == 0) idle_since_ = now;
      if (!idle && non_idle_++ == 0) idle_time_ += now - idle_since_;
    }
    if (!idle && !s.disturbed && config_.disturbance && config_.disturbance->contains(now)) {
      s.disturbed = true;
      ++disturbed_now_;
      ++report_.disturbed_certificates;
    }
  }

  bool api_up_for_day_before(SysTime t) const {
    const Window day{t - 24h, t};
    return std::none_of(config_.api.outages.begin(), config_.api.outages.end(),
                        [&](const Window& w) { return w.from < day.to && day.from < w.to; });
  }

  void record_expiry(const CertificateRun& s, std::optional<SysTime> renewed_at) {
    ExpiredCertificate e{s.node, s.kind, s.not_after, renewed_at, api_up_for_day_before(s.not_after)};
    if (e.api_server_up_day_before) ++report_.expired_with_api_server_up;
    report_.expired.push_back(e);
  }

  static double percentile99(std::vector<std::uint32_t> v) {
    if (v.empty()) return 0;
    const auto k = static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(v.size()))) - 1;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  }

  void finish() {
    for (const CertificateRun& s : runs_) {
      if (s.has_certificate && end_ >= s.not_after) record_expiry(s, std::nullopt);
    }
    for (std::size_t i = stored_filled_ + 1; i < series().stored.size(); ++i)
      series().stored[i] = static_cast<std::uint32_t>(last_stored_);
    const auto& csrs = series().csrs_created;
    const auto& requests = series().requests;
    report_.peak_csrs_per_minute = *std::max_element(csrs.begin(), csrs.end());
    report_.p99_csrs_per_minute = percentile99(csrs);
    report_.peak_requests_per_minute = *std::max_element(requests.begin(), requests.end());
    report_.p99_requests_per_minute = percentile99(requests);

    const double days = std::chrono::duration<double, std::ratio<86400>>(config_.duration).count();
    report_.api_requests_per_node_day = static_cast<double>(report_.api_requests) / (config_.nodes * days);
    if (non_idle_ == 0) idle_time_ += end_ - idle_since_;
    report_.idle_days = std::chrono::duration<double, std::ratio<86400>>(idle_time_).count();
    if (report_.idle_days > 0)
      report_.idle_api_requests_per_node_day =
          static_cast<double>(idle_requests_) / (config_.nodes * report_.idle_days);

    const double window = config_.policy.window.to - config_.policy.window.from;
    const auto first_window_ends =
        config_.start_spread + Seconds(static_cast<Seconds::rep>(
                                   config_.policy.window.to * static_cast<double>(config_.lifetime.count())));
    if (!rotation_buckets_.empty() && config_.duration >= first_window_ends) {
      const double bucket_minutes =
          std::chrono::duration<double, std::ratio<60>>(report_.rotation_bucket).count();
      report_.peak_rotation_rate_per_minute =
          *std::max_element(rotation_buckets_.begin(), rotation_buckets_.end()) / bucket_minutes;
      report_.even_rotation_rate_per_minute =
          static_cast<double>(runs_.size()) /
          (window * std::chrono::duration<double, std::ratio<60>>(config_.lifetime).count());
    }

    if (config_.disturbance) {
      const std::size_t from = minute_of(config_.disturbance->from);
      const std::size_t to = minute_of(config_.disturbance->to);
      if (from >= 60) {
        report_.steady_requests_per_minute =
            std::accumulate(requests.begin() + static_cast<std::ptrdiff_t>(from - 60),
                            requests.begin() + static_cast<std::ptrdiff_t>(from), 0.0) /
            60;
        report_.steady_peak_requests_per_minute =
            *std::max_element(requests.begin() + static_cast<std::ptrdiff_t>(from - 60),
                              requests.begin() + static_cast<std::ptrdiff_t>(from));
        report_.steady_csrs_per_minute =
            std::accumulate(csrs.begin() + static_cast<std::ptrdiff_t>(from - 60),
                            csrs.begin() + static_cast<std::ptrdiff_t>(from), 0.0) /
            60;
      }
      const std::size_t after = std::min(requests.size(), to + 60);
      if (to < after) {
        report_.retry_peak_requests_per_minute =
            *std::max_element(requests.begin() + static_cast<std::ptrdiff_t>(to),
                              requests.begin() + static_cast<std::ptrdiff_t>(after));
        report_.retry_peak_csrs_per_minute =
            *std::max_element(csrs.begin() + static_cast<std::ptrdiff_t>(to),
                              csrs.begin() + static_cast<std::ptrdiff_t>(after));
      }
      if (recovered_at_)
        report_.recovery_after_disturbance =
            std::chrono::duration_cast<Seconds>(*recovered_at_ - config_.disturbance->to);
    }
  }

  const FleetConfig& config_;
  FleetReport report_;
  SysTime end_;
  Rng server_rng_;
  std::vector<std::unique_ptr<Rng>> rngs_;  // stable addresses: each Lifecycle's uniform01 points at one
  std::vector<CertificateRun> runs_;        // node i: client at 2i, serving at 2i+1
  std::priority_queue<Event, std::vector<Event>, Later> events_;
  std::vector<CsrObject> csrs_;
  std::vector<std::uint32_t> live_csrs_;
  std::vector<std::size_t> free_csrs_;
  std::vector<std::uint16_t> stored_per_node_;
  std::vector<std::uint32_t> rotation_buckets_;
  std::uint64_t resource_version_ = 1000;
  Ticks current_second_ = -1;
  double served_this_second_ = 0;
  long non_idle_ = 0;
  SysTime idle_since_;
  SysTime::duration idle_time_{};
  long idle_requests_ = 0;
  long disturbed_now_ = 0;
  std::optional<SysTime> recovered_at_;
  std::size_t stored_filled_ = 0;
  long last_stored_ = 0;
};

}  // namespace

FleetReport simulate(const FleetConfig& config) {
  const auto started = std::chrono::steady_clock::now();
  FleetReport report = Fleet(config).run();
  report.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace kcd::fleetsim

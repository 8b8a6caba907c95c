#include "daemon/kubelet_restart.hpp"
#include "base/number.hpp"
#include "base/yaml.hpp"

#include "systemd/journal.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace kcd::daemon {

namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_text(std::chrono::milliseconds d) {
  return std::to_string((d.count() + 999) / 1000) + "s";
}

// One poll of the unit: is it where a healthy kubelet is? `problem` names what is wrong with
// it for good (failed, crash-looping); "" while it may still come up.
struct Observation {
  bool healthy = false;
  std::string problem;
  std::string now;  // what was seen, for the message when the bound passes
  pid_t pid = 0;
};

Observation observe(KubeletEffects& fx, const HealthEndpoint& health, pid_t old_pid,
                    std::uint32_t restarts_before, bool need_new_pid) {
  Observation o;
  const auto st = fx.unit_state();
  if (st) {
    const systemd::UnitState& u = *st;
    o.now = "unit " + u.describe();
    o.pid = u.main_pid;
    if (u.active_state == "failed") {
      o.problem = "the kubelet unit failed (" + u.describe() + ")";
      return o;
    }
    if (u.sub_state == "auto-restart" || u.n_restarts > restarts_before) {
      o.problem = "the kubelet exited and systemd is restarting it (" + u.describe() + ")";
      return o;
    }
    if (!u.running()) return o;
    if (need_new_pid && u.main_pid == old_pid) {
      o.now += " (the restart has not happened yet)";
      return o;
    }
  } else {
    o.now = "unit state unknown (" + st.error().message + ")";
  }
  if (health.port == 0) {
    o.healthy = st.has_value();  // healthz off: the unit's state alone decides
    return o;
  }
  if (!fx.healthz(health.host, health.port)) {
    o.now +=
        ", healthz http://" + health.host + ":" + std::to_string(health.port) + "/healthz not answering ok";
    return o;
  }
  o.healthy = true;
  return o;
}

// Polls until healthy and stable for `settle`, a lasting problem, or the bound.
RestartCheck wait_healthy(KubeletEffects& fx, const HealthEndpoint& health, const HealthPolicy& policy,
                          pid_t old_pid, std::uint32_t restarts_before, bool need_new_pid) {
  const auto start = fx.now();
  const auto deadline = start + policy.timeout;
  std::optional<Clock::time_point> healthy_since;
  pid_t healthy_pid = 0;
  std::string last;
  while (true) {
    Observation o = observe(fx, health, old_pid, restarts_before, need_new_pid);
    if (!o.problem.empty()) return {RestartCheck::Result::Unhealthy, o.problem};
    last = o.now;
    const pid_t pid = o.pid;
    if (o.healthy) {
      if (!healthy_since || pid != healthy_pid) {
        healthy_since = fx.now();
        healthy_pid = pid;
      }
      if (fx.now() - *healthy_since >= policy.settle) return {RestartCheck::Result::Healthy, last};
    } else if (healthy_since) {
      return {RestartCheck::Result::Unhealthy, "the kubelet answered, then stopped: " + last};
    }
    if (fx.now() >= deadline) {
      return {RestartCheck::Result::Unhealthy,
              "the kubelet was not healthy within " +
                  seconds_text(std::chrono::duration_cast<std::chrono::milliseconds>(policy.timeout)) +
                  " (kubeletHealthTimeout): " + last};
    }
    if (!fx.wait(policy.poll))
      return {RestartCheck::Result::Interrupted, "stopped while waiting for the kubelet"};
  }
}

}  // namespace

HealthEndpoint health_endpoint(const std::string& text) {
  HealthEndpoint h;
  try {
    auto loaded = load_yaml(text, "", ErrorKind::Config);
    if (!loaded) return h;
    YAML::Node doc = *loaded;  // not const: a const Node yields invalid nodes for absent keys
    if (!doc.IsMap()) return h;
    if (const YAML::Node a = doc["healthzBindAddress"]; a.IsDefined() && a.IsScalar() && !a.Scalar().empty())
      h.host = a.Scalar();
    if (const YAML::Node p = doc["healthzPort"]; p.IsDefined() && p.IsScalar()) {
      // Exactly a port or nothing: "10248x" is not 10248 (the kubelet refuses it too).
      if (const auto port = parse_whole_number(p.Scalar(), 0, 65535)) h.port = static_cast<int>(*port);
    }
  } catch (const std::exception&) {
    // A file we cannot read is answered with the kubelet's defaults.
  }
  // A wildcard bind answers on loopback too.
  if (h.host == "0.0.0.0") h.host = "127.0.0.1";
  if (h.host == "::" || h.host == "[::]") h.host = "::1";
  return h;
}

KubeletUnitSeen seen_unit(const Expected<systemd::UnitState>& unit) {
  if (!unit) return {KubeletUnitSeen::State::Unknown, unit.error().message};
  const bool up = unit->running() || unit->active_state == "activating";
  return {up ? KubeletUnitSeen::State::Up : KubeletUnitSeen::State::Down, unit->describe()};
}

RestartCheck restart_and_check(KubeletEffects& fx, const HealthEndpoint& health, const HealthPolicy& policy,
                               RestartDecision::Action action) {
  if (action == RestartDecision::Action::None)
    throw std::logic_error("restart_and_check: the policy decided not to restart");
  const auto before = fx.unit_state();
  const pid_t old_pid = before ? before->main_pid : 0;
  const std::uint32_t restarts = before ? before->n_restarts : 0;
  const auto r = fx.restart(action == RestartDecision::Action::TryRestart);
  if (!r) return {RestartCheck::Result::NotRestarted, r.error().message};
  return wait_healthy(fx, health, policy, old_pid, restarts, old_pid != 0);
}

RestartCheck check_health(KubeletEffects& fx, const HealthEndpoint& health, const HealthPolicy& policy) {
  const auto before = fx.unit_state();
  return wait_healthy(fx, health, policy, 0, before ? before->n_restarts : 0, false);
}

Expected<systemd::UnitState> SystemKubeletEffects::unit_state() {
  return systemd::unit_state(unit_, stop_);
}

Expected<std::string> SystemKubeletEffects::restart(bool only_if_running) {
  return systemd::restart_unit(unit_, only_if_running, stop_);
}

std::vector<std::string> SystemKubeletEffects::journal_tail() {
  return systemd::unit_journal_tail(unit_, 10);
}

bool SystemKubeletEffects::wait(std::chrono::milliseconds d) {
  const auto end = Clock::now() + d;
  while (Clock::now() < end) {
    if (stop_ != nullptr && stop_->load()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50), end - Clock::now()));
  }
  return stop_ == nullptr || !stop_->load();
}

bool SystemKubeletEffects::healthz(const std::string& host, int port) {
  // A plain HTTP/1.1 GET with a 2 s bound on every step; the answer must be 200 with body "ok".
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string h = host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  if (::getaddrinfo(h.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || res == nullptr)
    return false;
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return false;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  // 2 s per step, in 100 ms slices: a stop (SIGTERM) is never held up by a kubelet that
  // accepts the connection and then says nothing.
  auto ready = [&](short events) {
    pollfd p{fd, events, 0};
    for (int slice = 0; slice < 20; ++slice) {
      if (stop_ != nullptr && stop_->load()) return false;
      const int n = ::poll(&p, 1, 100);
      if (n < 0 && errno == EINTR) continue;
      if (n != 0) return n == 1 && (p.revents & (events | POLLHUP)) != 0;
    }
    return false;
  };
  if (rc != 0) {
    if (errno != EINPROGRESS || !ready(POLLOUT)) return false;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return false;
  }
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                          "\r\nUser-Agent: kubelet-certd\r\nConnection: close\r\n\r\n";
  if (!ready(POLLOUT) || ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return false;
  std::string resp;
  char buf[1024];
  while (resp.size() < 4096 && ready(POLLIN)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
  }
  const auto head_end = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.", 0) != 0 || resp.size() < 12 || resp.compare(9, 3, "200") != 0 ||
      head_end == std::string::npos) {
    return false;
  }
  std::string body = resp.substr(head_end + 4);
  // A chunked "ok" is "2\r\nok\r\n0\r\n\r\n".
  if (body.find("\r\nok\r\n") != std::string::npos) return true;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return body == "ok";
}

}  // namespace kcd::daemon

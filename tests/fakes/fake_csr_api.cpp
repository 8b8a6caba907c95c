#include "tests/fakes/fake_csr_api.hpp"

#include "base/files.hpp"
#include "base/rfc3339.hpp"
#include "rotation/cert_kind.hpp"
#include "rotation/certificate.hpp"
#include "rotation/csr.hpp"
#include "rotation/key.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace kcd::testing {

namespace {

// A Status body as kube-apiserver sends it, through the same parser the real client uses.
Error status_error(int code, const std::string& reason, const std::string& message,
                   const std::string& retry_after_header = {}) {
  const nlohmann::json status = {
      {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
      {"status", "Failure"}, {"message", message}, {"reason", reason},
      {"code", code}};
  return api::error_from_response(code, status.dump(), retry_after_header);
}

std::string not_found_message(const std::string& name) {
  return "certificatesigningrequests.certificates.k8s.io \"" + name + "\" not found";
}

// The CSR API over one connection: the requests go to the shared server with its credentials.
class FakeCsrApi final : public api::CsrApi {
 public:
  FakeCsrApi(FakeCsrApiServer& server, api::Credentials credentials)
      : server_(server), credentials_(std::move(credentials)) {}

  boost::asio::awaitable<api::Result<api::Csr>> create_csr(const api::CsrCreate& request) override {
    co_await round_trip();
    co_return server_.create(request, credentials_);
  }
  boost::asio::awaitable<api::Result<api::Csr>> get_csr(const std::string& name) override {
    co_await round_trip();
    co_return server_.get(name, credentials_);
  }
  boost::asio::awaitable<api::Result<api::WatchEnd>> watch_csr(
      const std::string& name, const std::string& resource_version, std::chrono::seconds timeout_seconds,
      std::chrono::seconds read_deadline, std::function<bool(const api::WatchEvent&)> on_event) override {
    co_await round_trip();
    co_return server_.watch(name, resource_version, timeout_seconds, read_deadline, on_event, credentials_);
  }
  boost::asio::awaitable<api::Result<api::Node>> get_node(const std::string& name) override {
    co_await round_trip();
    co_return server_.get_node(name, credentials_);
  }
  boost::asio::awaitable<api::Result<api::ConfigMap>> get_config_map(const std::string& ns,
                                                                     const std::string& name) override {
    co_await round_trip();
    co_return server_.get_config_map(ns, name, credentials_);
  }
  boost::asio::awaitable<api::Result<void>> create_event(const api::EventRecord& event) override {
    std::string verb = "create";  // a local: GCC 12 mishandles temporaries in a co_await expression
    co_return co_await event_request(std::move(verb), event);
  }
  boost::asio::awaitable<api::Result<void>> patch_event(const api::EventRecord& event) override {
    std::string verb = "patch";
    co_return co_await event_request(std::move(verb), event);
  }
  // Requests complete before the agent could cancel them, except a hanging Event request.
  void cancel() override {
    if (hanging_ != nullptr) hanging_->cancel();
  }

 private:
  // A request gives the loop back once, as a network request does: the test's checks and the
  // other certificate's run get their turn between requests.
  static boost::asio::awaitable<void> round_trip() {
    co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
  }

  boost::asio::awaitable<api::Result<void>> event_request(std::string verb, api::EventRecord event) {
    co_await round_trip();
    if (server_.faults.hang_events) {
      boost::asio::steady_timer never(co_await boost::asio::this_coro::executor);
      never.expires_at(std::chrono::steady_clock::time_point::max());
      hanging_ = &never;
      boost::system::error_code ec;
      co_await never.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      hanging_ = nullptr;
      co_return Unexpected(make_error(ErrorKind::Cancelled, "event request cancelled"));
    }
    co_return server_.post_event(verb, event, credentials_);
  }

  FakeCsrApiServer& server_;
  api::Credentials credentials_;
  boost::asio::steady_timer* hanging_ = nullptr;
};

api::CsrCondition condition(const std::string& type, const std::string& reason, const std::string& message,
                            daemon::SysTime at) {
  return api::CsrCondition{type, "True", reason, message, to_rfc3339(at)};
}

}  // namespace

FakeCsrApiServer::FakeCsrApiServer(VirtualClock& clock) : clock_(clock), ca_(TestCa::create_root()) {}

api::CsrApiFactory FakeCsrApiServer::factory() {
  return [this](const api::Endpoint&, const api::Credentials& credentials) {
    return std::unique_ptr<api::CsrApi>(std::make_unique<FakeCsrApi>(*this, credentials));
  };
}

std::string FakeCsrApiServer::ca_pem() const {
  return ca_.cert_pem();
}

int FakeCsrApiServer::requests(const std::string& verb) const {
  auto it = requests_.find(verb);
  return it == requests_.end() ? 0 : it->second;
}

std::vector<api::Csr> FakeCsrApiServer::csrs() const {
  std::vector<api::Csr> out;
  for (const auto& [name, csr] : csrs_) out.push_back(csr);
  return out;
}

api::Result<std::string> FakeCsrApiServer::admit(const std::string& verb,
                                                 const api::Credentials& credentials) {
  ++requests_[verb];
  std::string user;
  if (credentials.bearer_token) {
    const auto& token = *credentials.bearer_token;
    if (token != bootstrap_token() || faults.revoked_tokens.count(token) != 0) {
      return Unexpected(status_error(401, "Unauthorized", "Unauthorized"));
    }
    user = "system:bootstrap:" + token.substr(0, token.find('.'));
  } else if (credentials.client_cert_file) {
    if (faults.reject_client_certs) return Unexpected(status_error(401, "Unauthorized", "Unauthorized"));
    auto pem = kcd::read_file(*credentials.client_cert_file);
    if (!pem) return Unexpected(status_error(401, "Unauthorized", "Unauthorized"));
    auto chain = rotation::parse_certificates_pem(*pem, "client certificate");
    if (!chain || chain->empty()) return Unexpected(status_error(401, "Unauthorized", "Unauthorized"));
    user = rotation::inspect_certificate(chain->front().get()).common_name;
  } else {
    return Unexpected(status_error(401, "Unauthorized", "Unauthorized"));
  }
  if (faults.throttle_next > 0) {
    --faults.throttle_next;
    return Unexpected(status_error(429, "TooManyRequests", "Too many requests, please try again later.",
                                   std::to_string(faults.retry_after_seconds)));
  }
  if (faults.fail_next_with_5xx > 0) {
    --faults.fail_next_with_5xx;
    return Unexpected(status_error(500, "InternalError", "Internal error occurred: devapi fault"));
  }
  run_controllers();
  return user;
}

api::Result<api::Csr> FakeCsrApiServer::create(const api::CsrCreate& request,
                                               const api::Credentials& credentials) {
  auto user = admit("POST csr", credentials);
  if (!user) return Unexpected(user.error());
  if (csrs_.count(request.name) != 0) {
    return Unexpected(status_error(
        409, "AlreadyExists",
        "certificatesigningrequests.certificates.k8s.io \"" + request.name + "\" already exists"));
  }
  api::Csr csr;
  csr.name = request.name;
  csr.uid = "uid-" + std::to_string(csrs_.size() + 1);
  csr.creation_timestamp = to_rfc3339(clock_.now());
  csr.request_pem = request.request_pem;
  csr.signer_name = request.signer_name;
  csr.usages = request.usages;
  csr.expiration_seconds = request.expiration_seconds;
  csr.username = *user;
  csr.resource_version = std::to_string(++resource_version_);
  created_.push_back(clock_.now());
  history_.push_back({resource_version_, api::WatchEvent::Type::Added, csr});
  return csrs_[csr.name] = csr;
}

api::Result<api::Csr> FakeCsrApiServer::get(const std::string& name, const api::Credentials& credentials) {
  auto user = admit("GET csr", credentials);
  if (!user) return Unexpected(user.error());
  auto it = csrs_.find(name);
  if (it == csrs_.end()) return Unexpected(status_error(404, "NotFound", not_found_message(name)));
  return it->second;
}

api::Result<api::WatchEnd> FakeCsrApiServer::watch(
    const std::string& name, const std::string& resource_version, std::chrono::seconds timeout_seconds,
    std::chrono::seconds read_deadline, const std::function<bool(const api::WatchEvent&)>& on_event,
    const api::Credentials& credentials) {
  auto user = admit("WATCH csr", credentials);
  if (!user) return Unexpected(user.error());
  if (faults.watch_too_old) {
    api::WatchEvent expired;
    expired.type = api::WatchEvent::Type::Error;
    expired.error = status_error(
        410, "Expired",
        "too old resource version: " + resource_version + " (" + std::to_string(resource_version_) + ")");
    on_event(expired);
    return api::WatchEnd::ServerClosed;
  }
  if (faults.silent_watches) {
    clock_.advance(read_deadline);
    return api::WatchEnd::Silent;
  }
  // "" starts with the current state (ADDED), a resourceVersion with what happened after it.
  long from = resource_version.empty() ? 0 : std::stol(resource_version);
  if (resource_version.empty()) {
    auto it = csrs_.find(name);
    if (it != csrs_.end()) {
      from = std::stol(it->second.resource_version);
      if (!on_event(api::WatchEvent{api::WatchEvent::Type::Added, it->second, std::nullopt}))
        return api::WatchEnd::ByHandler;
    }
  }
  for (std::size_t seen = 0;;) {
    for (; seen < history_.size(); ++seen) {
      const Event& e = history_[seen];
      if (e.resource_version <= from || e.object.name != name) continue;
      if (!on_event(api::WatchEvent{e.type, e.object, std::nullopt})) return api::WatchEnd::ByHandler;
    }
    const std::size_t before = history_.size();
    run_controllers();
    if (history_.size() == before) break;
  }
  // Nothing more happens: the server ends the stream after timeoutSeconds.
  clock_.advance(timeout_seconds);
  return api::WatchEnd::ServerClosed;
}

api::Result<api::Node> FakeCsrApiServer::get_node(const std::string& name,
                                                  const api::Credentials& credentials) {
  auto user = admit("GET node", credentials);
  if (!user) return Unexpected(user.error());
  auto it = nodes.find(name);
  if (it == nodes.end()) return Unexpected(status_error(404, "NotFound", "nodes \"" + name + "\" not found"));
  api::Node n;
  n.name = n.uid = name;
  n.addresses = it->second;
  return n;
}

// kubeadm's RBAC: cluster-info is readable by system:anonymous only.
api::Result<api::ConfigMap> FakeCsrApiServer::get_config_map(const std::string& ns, const std::string& name,
                                                             const api::Credentials& credentials) {
  const bool anonymous =
      !credentials.bearer_token && !credentials.client_cert_file && !credentials.client_cert_pem;
  if (anonymous) ++requests_["GET configmap"];
  if (!anonymous) {
    auto user = admit("GET configmap", credentials);
    if (!user) return Unexpected(user.error());
    return Unexpected(status_error(
        403, "Forbidden",
        "configmaps \"" + name + "\" is forbidden: User \"" + *user +
            "\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"" + ns + "\""));
  }
  auto it = config_maps.find(ns + "/" + name);
  if (it == config_maps.end())
    return Unexpected(status_error(404, "NotFound", "configmaps \"" + name + "\" not found"));
  return it->second;
}

// The Node authorizer: a node (its client certificate) may create and patch core/v1 Events; a
// bootstrap token may not.
api::Result<void> FakeCsrApiServer::post_event(const std::string& verb, const api::EventRecord& event,
                                               const api::Credentials& credentials) {
  auto user = admit(verb == "create" ? "POST event" : "PATCH event", credentials);
  PostedEvent posted{verb, user ? *user : std::string(), 0, event};
  const auto answer = [&](int status, const std::string& reason, const std::string& message) {
    posted.status = status;
    event_requests_.push_back(posted);
    return status_error(status, reason, message);
  };
  if (!user) {
    posted.status = user.error().code;
    event_requests_.push_back(posted);
    return Unexpected(user.error());
  }
  if (faults.events_forbidden || user->rfind("system:node:", 0) != 0) {
    return Unexpected(answer(403, "Forbidden",
                             "events is forbidden: User \"" + *user + "\" cannot " + verb +
                                 " resource \"events\" in API group \"\" in the namespace \"" +
                                 event.namespace_ + "\""));
  }
  auto it = events_.find(event.name);
  if (verb == "create") {
    if (it != events_.end())
      return Unexpected(answer(409, "AlreadyExists", "events \"" + event.name + "\" already exists"));
    events_[event.name] = event;
  } else {
    if (it == events_.end())
      return Unexpected(answer(404, "NotFound", "events \"" + event.name + "\" not found"));
    it->second.count = event.count;
    it->second.last = event.last;
    it->second.message = event.message;
  }
  posted.status = verb == "create" ? 201 : 200;
  event_requests_.push_back(posted);
  return {};
}

std::vector<api::EventRecord> FakeCsrApiServer::events() const {
  std::vector<api::EventRecord> out;
  for (const auto& [name, e] : events_) out.push_back(e);
  return out;
}

void FakeCsrApiServer::approve(const std::string& name, bool approve) {
  auto it = csrs_.find(name);
  if (it == csrs_.end()) return;
  it->second.conditions.push_back(
      approve ? condition("Approved", "KubectlApprove", "approved by the test", clock_.now())
              : condition("Denied", "KubectlDeny", "denied by the test", clock_.now()));
  modified(it->second);
}

void FakeCsrApiServer::run_controllers() {
  for (auto& [name, csr] : csrs_) {
    if (csr.approved() || csr.terminal_condition() != nullptr) continue;
    const bool client = csr.signer_name == rotation::signer_name(rotation::CertKind::Client);
    if (faults.deny_all) {
      csr.conditions.push_back(condition("Denied", "DevapiDeny",
                                         "This CSR was denied by the devapi deny_all fault.", clock_.now()));
      modified(csr);
    } else if (client ? auto_approve_client : auto_approve_serving) {
      csr.conditions.push_back(
          condition("Approved", "AutoApproved", "Auto-Approving Node CSR", clock_.now()));
      modified(csr);
    }
  }
  for (auto& [name, csr] : csrs_) {
    if (csr.approved() && csr.terminal_condition() == nullptr && !csr.issued()) sign(csr);
  }
}

// kube-controller-manager's csrsigning: notBefore backdated 5 minutes, the lifetime the
// smaller of the signing duration and expirationSeconds.
void FakeCsrApiServer::sign(api::Csr& csr) {
  if (faults.fail_all) {
    csr.conditions.push_back(
        condition("Failed", "SignerValidationFailure", "devapi: the fail_all fault is set", clock_.now()));
    modified(csr);
    return;
  }
  auto parsed = rotation::parse_csr_pem(csr.request_pem);
  if (!parsed) {
    csr.conditions.push_back(condition("Failed", "SignerValidationFailure",
                                       "unable to parse csr: " + parsed.error().message, clock_.now()));
    modified(csr);
    return;
  }
  std::chrono::seconds ttl = signing_duration;
  if (csr.expiration_seconds) ttl = std::min(ttl, std::chrono::seconds(*csr.expiration_seconds));
  CertSpec spec;
  spec.subject = parsed->subject;
  spec.dns_names = parsed->dns_names;
  spec.ip_addresses = parsed->ip_addresses;
  const bool client = csr.signer_name == rotation::signer_name(rotation::CertKind::Client);
  spec.ext_key_usages = {std::string(client ? "client auth" : "server auth")};
  for (const auto& u : csr.usages) {
    if (u == "digital signature" || u == "key encipherment") spec.key_usages.push_back(u);
  }
  spec.not_before = clock_.now() - std::chrono::minutes(5);
  spec.not_after = ttl < std::chrono::hours(8) ? clock_.now() + ttl : spec.not_before + ttl;
  ossl::PKeyPtr other;
  EVP_PKEY* subject_key = parsed->public_key.get();
  if (faults.wrong_key_certificate) {
    other = rotation::generate_key(KeyAlgorithm::EcdsaP256);
    subject_key = other.get();
  }
  csr.certificate_pem = to_pem(ca_.issue(subject_key, spec).get());
  modified(csr);
}

void FakeCsrApiServer::modified(api::Csr& csr) {
  csr.resource_version = std::to_string(++resource_version_);
  history_.push_back({resource_version_, api::WatchEvent::Type::Modified, csr});
}

}  // namespace kcd::testing

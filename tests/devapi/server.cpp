// The Server facade: the control plane's parts wired together, the state directory its
// clients read, and the one io thread everything runs on.
#include "tests/devapi/wire.hpp"  // first: it sets the OpenSSL API level Boost.Asio's ssl headers need

#include "tests/devapi/server.hpp"

#include "base/base64.hpp"
#include "base/files.hpp"
#include "rotation/key.hpp"
#include "tests/devapi/auth.hpp"
#include "tests/devapi/authority.hpp"
#include "tests/devapi/cluster_api.hpp"
#include "tests/devapi/controllers.hpp"
#include "tests/devapi/csr_api.hpp"
#include "tests/devapi/generated.hpp"
#include "tests/devapi/http_server.hpp"
#include "tests/devapi/store.hpp"
#include "tests/support/must.hpp"
#include "tests/support/test_ca.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <future>
#include <thread>
#include <unistd.h>

namespace kcd::devapi {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

Options with_generated_tokens(Options o) {
  if (o.bootstrap_tokens.empty()) o.bootstrap_tokens.push_back(random_bootstrap_token());
  if (o.admin_token.empty()) o.admin_token = random_bootstrap_token() + random_bootstrap_token();
  return o;
}

}  // namespace

struct Server::ControlPlane {
  explicit ControlPlane(Options o)
      : options(with_generated_tokens(std::move(o))),
        // A restarted devapi keeps its CAs, so that kubeconfigs and certificates it issued stay valid.
        authority(Authority::load_or_create(options.state_dir)),
        store(options.initial_resource_version, options.watch_cache_events),
        controllers(io, options, authority, faults, store),
        authenticator(options, authority, faults),
        csr_api(store, controllers),
        cluster_api(io, options, store),
        http(io, options, authority, faults, store, csr_api, cluster_api, authenticator),
        approver(issue(authority.signer(), std::string(kApproverUser), {})) {
    store.set_event_listener([this] { http.wake_watches(); });
    http.set_ca_admin_handler([this](const std::string& step) { return ca_step(step); });
  }

  Options options;
  asio::io_context io;
  std::thread thread;
  Authority authority;
  uint16_t bound_port = 0;
  bool running = false;

  // Everything below is touched only on the io thread (public methods post to it).
  Faults faults;
  CsrStore store;
  Controllers controllers;
  Authenticator authenticator;
  CsrApi csr_api;
  ClusterApi cluster_api;
  HttpServer http;
  ClientCredential approver;

  static ClientCredential issue(const testing::TestCa& ca, const std::string& cn,
                                const std::vector<std::string>& organizations) {
    auto key = rotation::generate_key(KeyAlgorithm::EcdsaP256);
    testing::CertSpec spec;
    spec.subject = {cn, organizations};
    spec.ext_key_usages = {"client auth"};
    spec.key_usages = {"digital signature", "key encipherment"};
    spec.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
    spec.not_after = std::chrono::system_clock::now() + std::chrono::hours(24 * 365);
    return {testing::to_pem(ca.issue(key.get(), spec).get()), rotation::private_key_to_pem(key.get())};
  }

  std::string url() const { return "https://" + options.listen_host + ":" + std::to_string(bound_port); }

  // What clients of a devapi process read: the CAs (Authority::save), kubeconfigs for the
  // bootstrap token, the admin and the approver (trusting the bundle), the admin token, and
  // devapi.json naming them all.
  Expected<void> write_state_files() const {
    const auto& dir = options.state_dir;
    if (auto r = kcd::ensure_directory(dir, 0700); !r) return r;
    if (auto r = authority.save(dir); !r) return r;
    const std::string bundle = authority.bundle_pem();
    auto kubeconfig = [&](const std::string& user, const std::string& credential) {
      return "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: " +
             base64_encode(bundle) + "\n    server: " + url() + "\n  name: devapi\ncontexts:\n- context:\n" +
             "    cluster: devapi\n    user: " + user + "\n  name: " + user +
             "@devapi\ncurrent-context: " + user + "@devapi\nusers:\n- name: " + user + "\n  user:\n" +
             credential;
    };
    auto token = [](const std::string& t) { return "    token: " + t + "\n"; };
    const std::pair<const char*, std::string> files[] = {
        {"bootstrap-kubelet.conf",
         kubeconfig("tls-bootstrap-token-user", token(options.bootstrap_tokens.front()))},
        {"admin.conf", kubeconfig("kubernetes-admin", token(options.admin_token))},
        {"approver.conf", kubeconfig(std::string(kApproverUser),
                                     "    client-certificate-data: " + base64_encode(approver.cert_pem) +
                                         "\n    client-key-data: " + base64_encode(approver.key_pem) + "\n")},
        {"admin.token", options.admin_token + "\n"}};
    for (const auto& [name, content] : files) {
      if (auto r = kcd::write_file_atomic(dir / name, content, 0600); !r) return r;
    }
    json info = {{"url", url()},
                 {"port", bound_port},
                 {"caFile", (dir / "ca.crt").string()},
                 {"signerCaFile", (dir / "signer-ca.crt").string()},
                 {"bootstrapKubeconfig", (dir / "bootstrap-kubelet.conf").string()},
                 {"adminKubeconfig", (dir / "admin.conf").string()},
                 {"approverKubeconfig", (dir / "approver.conf").string()},
                 {"adminTokenFile", (dir / "admin.token").string()},
                 {"pid", static_cast<long>(::getpid())}};
    return kcd::write_file_atomic(dir / "devapi.json", info.dump(2) + "\n", 0644);
  }

  // One CA step on the io thread ("" reads the summary): the authority changes, then what hangs
  // on it (the approver's credential, the serving certificate, cluster-info, the files).
  Expected<json> ca_step(const std::string& step) {
    if (!step.empty()) {
      const Expected<void> r =
          step == "add"              ? authority.add_ca()
          : step == "switch-signer"  ? authority.switch_signer()
          : step == "switch-serving" ? authority.switch_serving()
          : step == "drop"           ? authority.drop_ca()
                           : Expected<void>(Unexpected(make_error(ErrorKind::Invalid, "no CA step " + step)));
      if (!r) return Unexpected(r.error());
      if (step == "switch-signer") approver = issue(authority.signer(), std::string(kApproverUser), {});
      if (step == "switch-serving") http.reissue_serving_certificate();
      if (options.cluster_info) cluster_api.publish_cluster_info(url(), authority.bundle_pem());
      if (!options.state_dir.empty()) {
        if (auto w = write_state_files(); !w) {
          Error e = w.error();
          e.message = "CA step " + step + " applied in memory but not saved: " + e.message;
          return Unexpected(e);
        }
      }
    }
    return authority.summary();
  }

  // Runs fn on the io thread and waits for its result.
  template <class F>
  auto on_io(F&& fn) -> decltype(fn()) {
    using R = decltype(fn());
    if (!running) return fn();
    std::packaged_task<R()> task(std::forward<F>(fn));
    auto fut = task.get_future();
    asio::post(io, [&task] { task(); });
    return fut.get();
  }
};

Server::Server(Options options) : control_plane_(std::make_unique<ControlPlane>(std::move(options))) {}

Server::~Server() {
  stop();
}

void Server::start() {
  ControlPlane& cp = *control_plane_;
  cp.bound_port = cp.http.listen();
  if (cp.options.cluster_info) cp.cluster_api.publish_cluster_info(cp.url(), cp.authority.bundle_pem());
  if (!cp.options.state_dir.empty()) testing::must(cp.write_state_files());
  cp.running = true;
  cp.http.serve();
  cp.thread = std::thread([&cp] { cp.io.run(); });
}

void Server::stop() {
  ControlPlane& cp = *control_plane_;
  if (!cp.running) return;
  asio::post(cp.io, [&cp] {
    cp.running = false;
    cp.http.shutdown();
    cp.io.stop();
  });
  if (cp.thread.joinable()) cp.thread.join();
  cp.running = false;
}

uint16_t Server::port() const {
  return control_plane_->bound_port;
}
std::string Server::url() const {
  return control_plane_->url();
}
std::string Server::ca_pem() const {
  return control_plane_->on_io([this] { return control_plane_->authority.signer().cert_pem(); });
}
std::string Server::ca_key_pem() const {
  return control_plane_->on_io([this] { return control_plane_->authority.signer().key_pem(); });
}
std::string Server::bundle_pem() const {
  return control_plane_->on_io([this] { return control_plane_->authority.bundle_pem(); });
}
std::string Server::serving_ca_pem() const {
  return control_plane_->on_io([this] { return control_plane_->authority.serving().cert_pem(); });
}
json Server::ca_summary() const {
  return control_plane_->on_io([this] { return control_plane_->authority.summary(); });
}
Expected<json> Server::add_ca() {
  return control_plane_->on_io([this] { return control_plane_->ca_step("add"); });
}
Expected<json> Server::switch_signer() {
  return control_plane_->on_io([this] { return control_plane_->ca_step("switch-signer"); });
}
Expected<json> Server::switch_serving() {
  return control_plane_->on_io([this] { return control_plane_->ca_step("switch-serving"); });
}
Expected<json> Server::drop_ca() {
  return control_plane_->on_io([this] { return control_plane_->ca_step("drop"); });
}
std::string Server::bootstrap_token() const {
  return control_plane_->options.bootstrap_tokens.front();
}
std::string Server::admin_token() const {
  return control_plane_->options.admin_token;
}
std::filesystem::path Server::bootstrap_kubeconfig_path() const {
  return control_plane_->options.state_dir / "bootstrap-kubelet.conf";
}

ClientCredential Server::approver_credential() const {
  return control_plane_->on_io([this] { return control_plane_->approver; });
}
std::filesystem::path Server::approver_kubeconfig_path() const {
  return control_plane_->options.state_dir / "approver.conf";
}
ClientCredential Server::issue_client_credential(const std::string& common_name,
                                                 const std::vector<std::string>& organizations) const {
  return control_plane_->on_io([this, common_name, organizations] {
    return ControlPlane::issue(control_plane_->authority.signer(), common_name, organizations);
  });
}

Faults Server::faults() const {
  return control_plane_->on_io([this] { return control_plane_->faults; });
}

void Server::set_faults(const Faults& f) {
  control_plane_->on_io([this, f] {
    ControlPlane& cp = *control_plane_;
    const bool cut = f.refuse_connections && !cp.faults.refuse_connections;
    const bool wake = cp.faults.silent_watches && !f.silent_watches;
    cp.faults = f;
    if (cut) cp.http.cut_connections();
    if (wake) cp.http.wake_watches();
    return 0;
  });
}

std::vector<json> Server::list_csrs() const {
  return control_plane_->on_io([this] {
    std::vector<json> out;
    for (const auto& [name, c] : control_plane_->store.csrs()) out.push_back(json::parse(c.to_json().dump()));
    return out;
  });
}

int Server::csrs_created() const {
  return control_plane_->on_io([this] { return control_plane_->store.created(); });
}

std::map<std::string, std::chrono::nanoseconds> Server::issue_times() const {
  return control_plane_->on_io([this] {
    std::map<std::string, std::chrono::nanoseconds> out;
    for (const auto& [name, c] : control_plane_->store.csrs()) {
      if (!c.certificate_b64.empty()) out[name] = c.issued_at - c.created_at;
    }
    return out;
  });
}

std::map<std::string, int> Server::request_counts() const {
  return control_plane_->on_io([this] { return control_plane_->http.request_counts(); });
}

void Server::approve(const std::string& name, bool approve) {
  control_plane_->on_io([this, name, approve] {
    control_plane_->controllers.decide(name, approve, approve ? "KubectlApprove" : "KubectlDeny",
                                       approve ? "This CSR was approved by kubectl certificate approve."
                                               : "This CSR was denied by kubectl certificate deny.");
    return 0;
  });
}

void Server::delete_csr(const std::string& name) {
  control_plane_->on_io([this, name] {
    control_plane_->store.remove(name);
    return 0;
  });
}

bool Server::create_node(const std::string& name) {
  return control_plane_->on_io(
      [this, name] { return control_plane_->cluster_api.create_node_as_admin(name); });
}

int Server::patch_node_status(const std::string& name, const nlohmann::json& patch, bool strategic) {
  return control_plane_->on_io([this, name, body = patch.dump(), strategic] {
    return control_plane_->cluster_api
        .patch_node_status(
            name, strategic ? "application/strategic-merge-patch+json" : "application/merge-patch+json", body)
        .status;
  });
}

int Server::set_node_addresses(const std::string& name,
                               const std::vector<std::pair<std::string, std::string>>& addresses) {
  json list = json::array();
  for (const auto& [type, address] : addresses) list.push_back(json{{"type", type}, {"address", address}});
  return patch_node_status(name, json{{"status", {{"addresses", list}}}});
}

std::vector<json> Server::list_objects(const std::string& resource) const {
  return control_plane_->on_io([this, resource] {
    std::vector<json> out;
    for (const ojson* o : control_plane_->store.objects(resource)) out.push_back(json::parse(o->dump()));
    return out;
  });
}

}  // namespace kcd::devapi

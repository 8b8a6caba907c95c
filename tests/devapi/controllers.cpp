// The approvers' and the signer's rules, and when each runs.
#include "tests/devapi/controllers.hpp"

#include "base/base64.hpp"
#include "rotation/certificate.hpp"
#include "rotation/csr.hpp"
#include "rotation/key.hpp"
#include "tests/devapi/generated.hpp"
#include "tests/devapi/authority.hpp"

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

namespace kcd::devapi {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kKubeletClientSigner = "kubernetes.io/kube-apiserver-client-kubelet";
constexpr std::string_view kKubeletServingSigner = "kubernetes.io/kubelet-serving";
constexpr std::string_view kNodeNamePrefix = "system:node:";

ojson condition(const std::string& type, const std::string& reason, const std::string& message) {
  const std::string now = now_rfc3339();
  ojson c = ojson::object();
  c["type"] = type;
  c["status"] = "True";
  c["reason"] = reason;
  c["message"] = message;
  c["lastUpdateTime"] = now;
  c["lastTransitionTime"] = now;
  return c;
}

bool decided(const CsrObject& c) {
  return c.has_condition("Approved") || c.has_condition("Denied") || c.has_condition("Failed");
}

bool contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool only_nodes_organization(const rotation::ParsedCsr& csr) {
  return csr.subject.organizations == std::vector<std::string>{"system:nodes"};
}

// The only usages a kubelet serving certificate may carry.
bool is_serving_usage(std::string_view usage) {
  return usage == "digital signature" || usage == "key encipherment" || usage == "server auth";
}

// csrsigning's rules for kubelet client certificates (the csrapproving controller asks the same
// of what it approves); the signer's message for the first one broken.
std::optional<std::string> kubelet_client_problem(std::vector<std::string> usages,
                                                  const rotation::ParsedCsr& csr) {
  std::sort(usages.begin(), usages.end());
  if (usages != std::vector<std::string>{"client auth", "digital signature", "key encipherment"}) {
    return "usages did not match [client auth digital signature key encipherment]";
  }
  if (!only_nodes_organization(csr)) return "subject organization is not system:nodes";
  if (csr.subject.common_name.rfind(kNodeNamePrefix, 0) != 0)
    return "subject common name does not begin with system:node:";
  if (!csr.dns_names.empty() || !csr.ip_addresses.empty() || !csr.email_addresses.empty() ||
      !csr.uris.empty()) {
    return "SAN entries are not allowed";
  }
  return std::nullopt;
}

// csrsigning's rules for kubelet serving certificates.
std::optional<std::string> kubelet_serving_problem(const std::vector<std::string>& usages,
                                                   const rotation::ParsedCsr& csr) {
  if (!std::all_of(usages.begin(), usages.end(), is_serving_usage) || !contains(usages, "server auth")) {
    return "usages did not match [digital signature key encipherment server auth]";
  }
  if (!only_nodes_organization(csr)) return "subject organization is not system:nodes";
  if (csr.dns_names.empty() && csr.ip_addresses.empty()) return "DNS or IP subjectAltName is required";
  if (!csr.email_addresses.empty() || !csr.uris.empty()) return "Email subjectAltNames are not allowed";
  return std::nullopt;
}

// What kube-controller-manager 1.24's csrapproving controller auto-approves: kubelet client
// CSRs the signer would accept, from a requester RBAC allows (selfnodeclient for renewals,
// nodeclient for bootstrap tokens). nullopt: it leaves the CSR pending.
std::optional<std::string> client_approval_message(const CsrObject& c) {
  if (c.signer != kKubeletClientSigner) return std::nullopt;
  auto parsed = rotation::parse_csr_pem(c.request_pem);
  if (!parsed || kubelet_client_problem(c.usages, *parsed)) return std::nullopt;
  const bool in_nodes = contains(c.groups, "system:nodes");
  const bool bootstrapper = contains(c.groups, "system:bootstrappers:kubeadm:default-node-token");
  if (c.username == parsed->subject.common_name && in_nodes) {
    return "Auto approving self kubelet client certificate after SubjectAccessReview.";
  }
  if (bootstrapper) return "Auto approving kubelet client certificate after SubjectAccessReview.";
  return std::nullopt;
}

// postfinance/kubelet-csr-approver's rules; a reason when the CSR breaks one.
std::optional<std::string> strict_serving_problem(const CsrObject& c) {
  auto parsed = rotation::parse_csr_pem(c.request_pem);
  if (!parsed) return "the request does not parse";
  const std::string& cn = parsed->subject.common_name;
  if (cn.rfind(kNodeNamePrefix, 0) != 0) return "CN must start with system:node:";
  if (c.username != cn) return "the requester " + c.username + " is not " + cn;
  if (!only_nodes_organization(*parsed)) return "O must be exactly system:nodes";
  const std::string node = cn.substr(kNodeNamePrefix.size());
  for (const auto& u : c.usages) {
    if (!is_serving_usage(u)) return "usage " + u + " is not allowed";
  }
  if (!contains(c.usages, "server auth")) return "server auth usage missing";
  if (parsed->ip_addresses.empty()) return "at least one IP address SAN is required";
  if (parsed->dns_names.size() > 1) return "at most one DNS name SAN is allowed";
  if (!parsed->dns_names.empty() && parsed->dns_names.front().rfind(node, 0) != 0) {
    return "the DNS name " + parsed->dns_names.front() + " does not start with the node name " + node;
  }
  if (!parsed->email_addresses.empty() || !parsed->uris.empty()) return "email and URI SANs are not allowed";
  if (c.expiration_seconds && *c.expiration_seconds > 367LL * 24 * 3600)
    return "expirationSeconds above 367 days";
  return std::nullopt;
}

}  // namespace

void Controllers::csr_created(const std::string& name) {
  schedule(options_.approve_delay, [this, name] { run_approver(name); });
}

void Controllers::decide(const std::string& name, bool approve, const std::string& reason,
                         const std::string& message) {
  CsrObject* csr = store_.find(name);
  if (csr == nullptr) return;
  const std::string type = approve ? "Approved" : "Denied";
  if (csr->has_condition(type)) return;
  add_condition(*csr, condition(type, reason, message));
}

void Controllers::schedule(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(io_, delay);
  timer->async_wait([timer, fn = std::move(fn)](boost::system::error_code ec) {
    if (ec) return;
    // A controller failing must not take the whole server (its io thread) down.
    try {
      fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "devapi: controller error: %s\n", e.what());
    }
  });
}

// Stores the new condition; an approval goes on to the signer.
void Controllers::add_condition(CsrObject& csr, const ojson& condition) {
  csr.conditions.push_back(condition);
  store_.modified(csr);
  if (condition["type"] == "Approved")
    schedule(options_.sign_delay, [this, name = csr.name] { run_signer(name); });
}

void Controllers::run_approver(const std::string& name) {
  CsrObject* csr = store_.find(name);
  if (csr == nullptr || decided(*csr)) return;
  const CsrObject& c = *csr;
  if (faults_.deny_all) {
    add_condition(*csr,
                  condition("Denied", "DevapiDeny", "This CSR was denied by the devapi deny_all fault."));
  } else if (c.signer == kKubeletClientSigner && options_.auto_approve_client) {
    auto msg = client_approval_message(c);
    if (!msg) return;  // stays pending, as on a real cluster
    add_condition(*csr, condition("Approved", "AutoApproved", *msg));
  } else if (c.signer == kKubeletServingSigner && options_.serving_approver != ServingApprover::None) {
    const auto problem =
        options_.serving_approver == ServingApprover::Strict ? strict_serving_problem(c) : std::nullopt;
    add_condition(*csr, problem ? condition("Denied", "CSRValidationFailed", *problem)
                                : condition("Approved", "AutoApproved", "Auto-Approving Node CSR"));
  }
}

// kube-controller-manager's csrsigning: validates the request against the signer's rules,
// then signs with notBefore backdated 5 minutes and the lifetime the recordings show.
void Controllers::run_signer(const std::string& name) {
  CsrObject* csr = store_.find(name);
  if (csr == nullptr) return;
  CsrObject& c = *csr;
  if (!c.has_condition("Approved") || c.has_condition("Denied") || c.has_condition("Failed") ||
      !c.certificate_b64.empty()) {
    return;
  }
  auto parsed = rotation::parse_csr_pem(c.request_pem);
  std::optional<std::string> problem;
  std::string eku;
  if (!parsed) {
    problem = "unable to parse csr: " + parsed.error().message;
  } else if (c.signer == kKubeletClientSigner) {
    problem = kubelet_client_problem(c.usages, *parsed);
    eku = "client auth";
  } else if (c.signer == kKubeletServingSigner) {
    problem = kubelet_serving_problem(c.usages, *parsed);
    eku = "server auth";
  } else {
    return;  // not ours to sign (other signers are left alone, as kube-controller-manager does)
  }
  if (!problem && faults_.fail_all) problem = "devapi: the fail_all fault is set";
  if (problem) {
    c.conditions.push_back(condition("Failed", "SignerValidationFailure", *problem));
    store_.modified(c);
    return;
  }
  const auto now = std::chrono::system_clock::now();
  std::chrono::seconds ttl = options_.signing_duration;
  if (c.expiration_seconds)
    ttl = std::min<std::chrono::seconds>(ttl, std::chrono::seconds(*c.expiration_seconds));
  constexpr auto kBackdate = 5min;
  constexpr auto kShort = 8h;
  testing::CertSpec spec;
  spec.subject = parsed->subject;
  spec.dns_names = parsed->dns_names;
  spec.ip_addresses = parsed->ip_addresses;
  spec.ext_key_usages = {eku};
  for (const auto& u : c.usages) {
    if (u == "digital signature" || u == "key encipherment") spec.key_usages.push_back(u);
  }
  spec.not_before = now - kBackdate;
  spec.not_after = ttl < kShort ? now + ttl : spec.not_before + ttl;
  const auto ca_not_after = rotation::inspect_certificate(authority_.signer().cert()).not_after;
  if (spec.not_after > ca_not_after) spec.not_after = ca_not_after;
  ossl::PKeyPtr other;
  EVP_PKEY* subject_key = parsed->public_key.get();
  if (faults_.wrong_key_certificate) {
    other = rotation::generate_key(KeyAlgorithm::EcdsaP256);
    subject_key = other.get();
  }
  auto cert = authority_.signer().issue(subject_key, spec);
  c.certificate_b64 = base64_encode(testing::to_pem(cert.get()));
  c.issued_at = std::chrono::steady_clock::now();
  store_.modified(c);
}

}  // namespace kcd::devapi

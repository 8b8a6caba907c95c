// Who a request comes from (bearer tokens, client certificates chained to devapi's CA) and the
// subset of kube-apiserver's RBAC that devapi enforces for CSRs.
#pragma once

#include "tests/devapi/server.hpp"

#include <openssl/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::devapi {

class Authority;

struct User {
  std::string name;
  std::vector<std::string> groups;
  bool in(std::string_view group) const;
};

class Authenticator {
 public:
  // Keeps references: the tokens, the CA bundle and the faults are read at each request.
  Authenticator(const Options& options, const Authority& authority, const Faults& faults)
      : options_(options), authority_(authority), faults_(faults) {}

  // `authorization` is the Authorization header (empty when absent); `tls` the connection the
  // request came on, for its client certificate. nullopt: 401. No credentials at all:
  // system:anonymous.
  std::optional<User> authenticate(std::string_view authorization, SSL* tls) const;

 private:
  std::optional<User> from_bearer_token(std::string_view token) const;
  std::optional<User> from_client_certificate(SSL* tls) const;

  const Options& options_;
  const Authority& authority_;  // a client certificate must chain to a CA of its bundle
  const Faults& faults_;
};

// The cluster roles that matter here: system:node-bootstrapper (bound to system:bootstrappers)
// and system:node let their users create, get, list and watch CSRs; approving, denying and
// deleting them, and driving devapi itself, take system:masters.
bool can_request_certificates(const User& user);
bool is_cluster_admin(const User& user);

// The serving-CSR approver's identity (packaging/kubernetes/approver-rbac.yaml, as recorded):
// CSRs get/list/watch and approval update, approve on the kubernetes.io/kubelet-serving signer
// only, nodes get/list/watch, leases create/get/update in kube-system, events create/patch.
inline constexpr std::string_view kApproverUser = "system:kubelet-certd-approver";
bool is_serving_approver(const User& user);
// The node a user is (system:node:<n> in group system:nodes); empty for anyone else.
std::string node_of(const User& user);

}  // namespace kcd::devapi

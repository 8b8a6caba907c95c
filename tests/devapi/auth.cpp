// Authentication by bearer token or client certificate, and devapi's RBAC subset.
#include "tests/devapi/auth.hpp"

#include "rotation/certificate.hpp"
#include "base/openssl.hpp"
#include "tests/devapi/authority.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

namespace kcd::devapi {

bool User::in(std::string_view group) const {
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

std::optional<User> Authenticator::authenticate(std::string_view authorization, SSL* tls) const {
  if (!authorization.empty()) {
    if (authorization.rfind("Bearer ", 0) != 0) return std::nullopt;
    return from_bearer_token(authorization.substr(7));
  }
  return from_client_certificate(tls);
}

std::optional<User> Authenticator::from_bearer_token(std::string_view token) const {
  if (faults_.revoked_tokens.count(std::string(token))) return std::nullopt;
  if (token == options_.admin_token)
    return User{"kubernetes-admin", {"system:masters", "system:authenticated"}};
  for (const auto& t : options_.bootstrap_tokens) {
    if (token == t) {
      return User{"system:bootstrap:" + t.substr(0, 6),
                  {"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
                   "system:authenticated"}};
    }
  }
  return std::nullopt;
}

std::optional<User> Authenticator::from_client_certificate(SSL* tls) const {
  X509* peer = SSL_get0_peer_certificate(tls);
  if (peer == nullptr) return User{"system:anonymous", {"system:unauthenticated"}};
  if (faults_.reject_client_certs) return std::nullopt;
  // Verify like --client-ca-file: chain to a CA of the bundle, valid now.
  ossl::X509StorePtr store(X509_STORE_new());
  for (const auto& ca : authority_.cas()) X509_STORE_add_cert(store.get(), ca.cert());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(tls);
  X509_STORE_CTX_init(ctx.get(), store.get(), peer, chain);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  const bool ok = X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();
  if (!ok) return std::nullopt;
  auto info = rotation::inspect_certificate(peer);
  User u{info.common_name, info.organizations};
  u.groups.push_back("system:authenticated");
  return u;
}

bool can_request_certificates(const User& user) {
  return user.in("system:bootstrappers") || user.in("system:nodes") || user.in("system:masters");
}

bool is_cluster_admin(const User& user) {
  return user.in("system:masters");
}

bool is_serving_approver(const User& user) {
  return user.name == kApproverUser;
}

std::string node_of(const User& user) {
  constexpr std::string_view kPrefix = "system:node:";
  if (!user.in("system:nodes") || user.name.rfind(kPrefix, 0) != 0) return "";
  return user.name.substr(kPrefix.size());
}

}  // namespace kcd::devapi

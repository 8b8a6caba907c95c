// The cluster CA on this node: only real CAs are trusted (every bundle read from a kubeconfig
// is checked before it is used or written), and the node follows the bundle the cluster
// publishes in kube-public/cluster-info through a CA rotation.
#pragma once

#include "base/expected.hpp"
#include "config/kubeconfig.hpp"
#include "rotation/ca_bundle.hpp"

#include "config/cluster_info.hpp"
#include "rotation/cert_kind.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kcd::daemon {

// The kubeconfig's CA bundle (certificate-authority-data, or the file certificate-authority
// names), checked by rotation::check_ca_bundle at `now`; the error names the kubeconfig and
// the field.
Expected<rotation::CaBundle> check_kubeconfig_ca(const config::Kubeconfig& kc,
                                                 std::chrono::system_clock::time_point now);

// One of the node's certificates as the follower sees it: its chain as installed.
struct NodeCertificate {
  rotation::CertKind kind;
  std::vector<ossl::X509Ptr> chain;
};

// What to do about the bundle kube-public/cluster-info publishes.
struct CaFollowDecision {
  enum class Action {
    None,    // the bundle the node trusts is the published one
    Refuse,  // not followed (`message`: why and what to do); nothing written
    Hold,    // the published bundle drops a CA that still issued a certificate of this node:
             // renew those (`renew`) first; the bundle is written once none chains only to it
    Apply,   // write `bundle` to kubelet.conf and the client CA file, restart the kubelet, then
             // renew `renew`: certificates from a CA the bundle already had, so the new signer
             // re-issues them before the old CA is dropped
  } action = Action::None;
  rotation::BundleChange change;
  std::string bundle_pem;
  std::vector<rotation::CertKind> renew;
  std::string message;  // one line for the journal
};

// Decides from cluster-info's data (read anonymously over a connection verified with `trusted`),
// the bootstrap token when one is at hand (its JWS must sign the document, as kubeadm join
// checks), and the node's installed certificates. Pure: time passed in.
CaFollowDecision decide_ca_follow(const rotation::CaBundle& trusted,
                                  const std::map<std::string, std::string>& cluster_info_data,
                                  const std::optional<config::BootstrapToken>& token,
                                  const std::vector<NodeCertificate>& node,
                                  std::chrono::system_clock::time_point now);

}  // namespace kcd::daemon

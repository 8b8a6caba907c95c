#include "daemon/cluster_ca.hpp"

#include <algorithm>

namespace kcd::daemon {

Expected<rotation::CaBundle> check_kubeconfig_ca(const config::Kubeconfig& kc,
                                                 std::chrono::system_clock::time_point now) {
  const std::string source =
      kc.ca_file ? kc.source.string() + " (certificate-authority " + kc.ca_file->string() + ")"
                 : kc.source.string() + " (certificate-authority-data)";
  return rotation::check_ca_bundle(kc.ca_pem, source, now);
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
  return out;
}

// The certificates of `b` whose SHA-256 is among `sha256`.
std::vector<X509*> anchors_of(const rotation::CaBundle& b, const std::vector<std::string>& sha256) {
  std::vector<X509*> out;
  for (std::size_t i = 0; i < b.certs.size(); ++i)
    if (std::find(sha256.begin(), sha256.end(), b.info[i].sha256_fingerprint) != sha256.end())
      out.push_back(b.certs[i].get());
  return out;
}

}  // namespace

CaFollowDecision decide_ca_follow(const rotation::CaBundle& trusted,
                                  const std::map<std::string, std::string>& cluster_info_data,
                                  const std::optional<config::BootstrapToken>& token,
                                  const std::vector<NodeCertificate>& node,
                                  std::chrono::system_clock::time_point now) {
  static const std::string kSource = "kube-public/cluster-info";
  CaFollowDecision d;
  auto refuse = [&](std::string why) {
    d.action = CaFollowDecision::Action::Refuse;
    d.message = std::move(why);
    return d;
  };
  auto info = config::parse_cluster_info(cluster_info_data, kSource);
  if (!info) return refuse(info.error().format());
  if (token) {
    if (auto signed_ok = config::verify_cluster_info(*info, *token, kSource); !signed_ok)
      return refuse(signed_ok.error().format());
  }
  auto published =
      rotation::check_ca_bundle(info->ca_pem, kSource + " (data.kubeconfig certificate-authority-data)", now);
  if (!published) return refuse(published.error().format());
  d.change = rotation::assess_bundle_change(trusted, *published);
  switch (d.change.verdict) {
    case rotation::BundleChange::Verdict::Same:
      return d;
    case rotation::BundleChange::Verdict::Refuse:
      return refuse(kSource + ": " + d.change.why);
    case rotation::BundleChange::Verdict::Follow:
      break;
  }
  d.bundle_pem = published->pem;
  const auto keeps = published->anchors();
  if (!d.change.dropped.empty()) {
    const auto dropped = anchors_of(trusted, d.change.dropped_sha256);
    for (const auto& c : node) {
      if (!rotation::issued_by(c.chain, keeps) && rotation::issued_by(c.chain, dropped))
        d.renew.push_back(c.kind);
    }
    if (!d.renew.empty()) {
      d.action = CaFollowDecision::Action::Hold;
      std::string kinds;
      for (auto k : d.renew)
        kinds += std::string(kinds.empty() ? "" : ", ") + std::string(rotation::to_string(k));
      d.message = kSource + " drops " + join(d.change.dropped) + ", which issued this node's " + kinds +
                  " certificate: renewing it first; the bundle is followed once no certificate of the node "
                  "chains only to the dropped CA";
      return d;
    }
  }
  d.action = CaFollowDecision::Action::Apply;
  if (!d.change.added.empty()) {
    // Re-issued by the cluster's signer now: before the old CA can be dropped.
    const auto added = anchors_of(*published, d.change.added_sha256);
    for (const auto& c : node) {
      if (rotation::issued_by(c.chain, trusted.anchors()) && !rotation::issued_by(c.chain, added))
        d.renew.push_back(c.kind);
    }
  }
  d.message = kSource + ": the cluster's CA bundle changed";
  if (!d.change.added.empty()) d.message += "; added " + join(d.change.added);
  if (!d.change.dropped.empty()) d.message += "; dropped " + join(d.change.dropped);
  return d;
}

}  // namespace kcd::daemon

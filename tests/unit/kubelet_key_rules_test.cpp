// The version table: every key the patch may write, checked at every version boundary from
// 1.24 to the newest release; the patch holds back exactly what a kubelet would refuse.
#include "kubelet/key_rules.hpp"
#include "kubelet/kubelet_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace kcd::kubelet {
namespace {

using ::testing::HasSubstr;

constexpr int kNewestMinor = 36;  // the newest release the table was checked against

std::optional<std::string> refused(const std::string& key, std::optional<Version> v,
                                   FeatureGates gates = {}) {
  const KeyRule* rule = find_key_rule(key);
  EXPECT_NE(rule, nullptr) << key;
  return rule ? refusal(*rule, v, gates) : std::optional<std::string>("no rule");
}

TEST(KubeletVersion, ParsesWhatKubeletVersionPrints) {
  EXPECT_EQ(parse_version("Kubernetes v1.24.17"), (Version{1, 24, 17}));
  EXPECT_EQ(parse_version("Kubernetes v1.30.2-eks-1552ad0\n"), (Version{1, 30, 2}));
  EXPECT_EQ(parse_version("v1.31"), (Version{1, 31, 0}));
  EXPECT_EQ(parse_version("kubelet version 1.28.3"), (Version{1, 28, 3}));
  EXPECT_FALSE(parse_version("Kubernetes vX.Y"));
  EXPECT_FALSE(parse_version(""));
  EXPECT_FALSE(parse_version("Kubernetes v2.1.0")) << "there is no Kubernetes 2";
  EXPECT_FALSE(parse_version("v1.99999.0")) << "absurd numbers are not a version";
  EXPECT_LT((Version{1, 24, 17}), (Version{1, 25, 0}));
  EXPECT_EQ((Version{1, 9, 3}).minor_string(), "1.9");
}

// Whether kubelet-certd restarts the kubelet for it is daemon/kubelet_restart_policy's decision.
TEST(KubeletVersion, KubeletsFrom131ReloadTheirServingCertificate) {
  EXPECT_FALSE(reloads_serving_certificate(Version{1, 30, 9}));
  EXPECT_TRUE(reloads_serving_certificate(Version{1, 31, 0}));
  EXPECT_TRUE(reloads_serving_certificate(Version{1, 35, 0}));
  EXPECT_FALSE(reloads_serving_certificate(Version{1, 24, 0}));
}

// Every key but seccompDefault is accepted, ungated, by every supported kubelet.
TEST(KeyRules, UngatedKeysAreAcceptedByEverySupportedKubelet) {
  for (const auto& rule : key_rules()) {
    if (rule.gate) continue;
    for (int minor = 24; minor <= kNewestMinor; ++minor) {
      EXPECT_EQ(refusal(rule, Version{1, minor, 0}, {}), std::nullopt) << rule.key << " on 1." << minor;
    }
    EXPECT_EQ(refusal(rule, std::nullopt, {}), std::nullopt) << rule.key << " with no kubelet found";
  }
}

TEST(KeyRules, SeccompDefaultFollowsItsFeatureGateStages) {
  // Alpha, off by default: only with the gate turned on.
  auto r = refused("seccompDefault", Version{1, 24, 17});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "seccompDefault needs the SeccompDefault feature gate on kubelet 1.24");
  EXPECT_FALSE(refused("seccompDefault", Version{1, 24, 17}, {{"SeccompDefault", true}}));
  EXPECT_TRUE(refused("seccompDefault", Version{1, 24, 0}, {{"SeccompDefault", false}}));
  // Beta, on by default (1.25-1.26): unless the gate is turned off.
  for (int minor : {25, 26}) {
    EXPECT_FALSE(refused("seccompDefault", Version{1, minor, 0})) << minor;
    auto off = refused("seccompDefault", Version{1, minor, 3}, {{"SeccompDefault", false}});
    ASSERT_TRUE(off) << minor;
    EXPECT_THAT(*off, HasSubstr("turned off"));
  }
  // GA from 1.27 (the gate is gone from 1.29): always accepted.
  for (int minor = 27; minor <= kNewestMinor; ++minor)
    EXPECT_FALSE(refused("seccompDefault", Version{1, minor, 0})) << minor;
  // Before the field existed.
  auto old = refused("seccompDefault", Version{1, 21, 0});
  ASSERT_TRUE(old);
  EXPECT_THAT(*old, HasSubstr("needs kubelet 1.22 or newer"));
}

TEST(KeyRules, NoKubeletFoundMeansWhatEverySupportedVersionAccepts) {
  auto r = refused("seccompDefault", std::nullopt);
  ASSERT_TRUE(r);
  EXPECT_THAT(*r, HasSubstr("no kubelet found"));
  EXPECT_FALSE(refused("seccompDefault", std::nullopt, {{"SeccompDefault", true}}))
      << "the operator turned the gate on";
  EXPECT_FALSE(refused("readOnlyPort", std::nullopt));
}

TEST(KeyRules, FeatureGatesFlagIsParsedLikeTheKubeletDoes) {
  const auto g =
      parse_feature_gates_flag("SeccompDefault=true, RotateKubeletServerCertificate=False,broken,=true");
  EXPECT_EQ(g, (FeatureGates{{"SeccompDefault", true}, {"RotateKubeletServerCertificate", false}}));
}

// What the CIS patch writes on a kubeadm-like file, per version.
PatchResult patch_for(std::optional<Version> v, const std::string& file = {}, FeatureGates flag_gates = {}) {
  KubeletConfigPatch p;
  p.tls_cert_file = p.tls_private_key_file = "/var/lib/kubelet/pki/kubelet-server-current.pem";
  p.client_ca_file = "/etc/kubernetes/pki/ca.crt";
  p.kubelet_version = v;
  p.flag_gates = std::move(flag_gates);
  auto r = patch_kubelet_config(file, p, "/var/lib/kubelet/config.yaml");
  EXPECT_TRUE(r) << (r ? "" : r.error().format());
  return r ? *r : PatchResult{};
}

TEST(KeyRules, EveryKeyThePatchWritesIsInTheTable) {
  const PatchResult r = patch_for(Version{1, kNewestMinor, 0});
  EXPECT_TRUE(r.held_back.empty()) << r.held_back.front().reason;
  std::set<std::string> written(r.keys.begin(), r.keys.end());
  for (const auto& k : written) EXPECT_NE(find_key_rule(k), nullptr) << k;
  EXPECT_TRUE(written.count("seccompDefault"));
  EXPECT_TRUE(written.count("podPidsLimit"));
  EXPECT_TRUE(written.count("tlsCertFile"));
}

TEST(KeyRules, PatchHoldsBackSeccompDefaultOnKubelet124AndSaysWhy) {
  const PatchResult r = patch_for(Version{1, 24, 17});
  EXPECT_EQ(r.text.find("seccompDefault"), std::string::npos) << r.text;
  ASSERT_EQ(r.held_back.size(), 1u);
  EXPECT_EQ(r.held_back[0].key, "seccompDefault");
  EXPECT_EQ(r.held_back[0].cis, "4.2.14");
  EXPECT_EQ(r.held_back[0].reason, "seccompDefault needs the SeccompDefault feature gate on kubelet 1.24");
  EXPECT_NE(r.text.find("podPidsLimit: 4096"), std::string::npos) << "everything else is still written";
}

TEST(KeyRules, PatchWritesSeccompDefaultWhereTheGateIsOnOrNotNeeded) {
  EXPECT_NE(patch_for(Version{1, 30, 4}).text.find("seccompDefault: true"), std::string::npos);
  EXPECT_NE(patch_for(Version{1, 25, 0}).text.find("seccompDefault: true"), std::string::npos);
  // 1.24 with the gate in the file, or on the command line.
  const std::string gated =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfeatureGates:\n  "
      "SeccompDefault: true\n";
  EXPECT_NE(patch_for(Version{1, 24, 0}, gated).text.find("seccompDefault: true"), std::string::npos);
  EXPECT_NE(patch_for(Version{1, 24, 0}, {}, {{"SeccompDefault", true}}).text.find("seccompDefault: true"),
            std::string::npos);
  // 1.26 with the gate turned off in the file: held back.
  const std::string off =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfeatureGates:\n  "
      "SeccompDefault: false\n";
  const PatchResult r = patch_for(Version{1, 26, 0}, off);
  EXPECT_EQ(r.text.find("seccompDefault: true"), std::string::npos);
  ASSERT_EQ(r.held_back.size(), 1u);
  // The patch never turns a gate on by itself.
  EXPECT_NE(r.text.find("SeccompDefault: false"), std::string::npos);
}

TEST(KeyRules, PatchHoldsBackKeysRefusedAfterARollback) {
  KubeletConfigPatch p;
  p.kubelet_version = Version{1, 30, 0};
  p.refused = {{"podPidsLimit", "rolled back at 2026-12-02T10:00:00Z"}};
  auto r = patch_kubelet_config("", p, "/x/config.yaml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text.find("podPidsLimit"), std::string::npos);
  ASSERT_EQ(r->held_back.size(), 1u);
  EXPECT_EQ(r->held_back[0].reason, "rolled back at 2026-12-02T10:00:00Z");
  EXPECT_NE(r->text.find("seccompDefault: true"), std::string::npos);
}

}  // namespace
}  // namespace kcd::kubelet

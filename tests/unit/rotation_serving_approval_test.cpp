// Issue 11: the one implementation of the serving CSR rules, as tables: approve, leave pending,
// deny (with the rule that failed).
#include "rotation/serving_approval.hpp"
#include "base/cidr.hpp"
#include "rotation/key.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace kcd::rotation {
namespace {

// A request node "n1" would send: CN=system:node:n1, O=system:nodes, its DNS name and IP.
ServingCsr good_csr() {
  ServingCsr c;
  c.name = "csr-1";
  c.signer_name = "kubernetes.io/kubelet-serving";
  c.username = "system:node:n1";
  c.groups = {"system:nodes", "system:authenticated"};
  c.usages = {"digital signature", "server auth"};
  ParsedCsr r;
  r.subject = Subject{"system:node:n1", {"system:nodes"}};
  r.dns_names = {"n1.example.internal"};
  r.ip_addresses = {"10.0.0.11", "fd00::11"};
  r.signature_valid = true;
  c.request = std::move(r);
  return c;
}

std::vector<NodeAddress> n1_addresses() {
  return {{"InternalIP", "10.0.0.11"}, {"InternalIP", "fd00:0:0:0::11"}, {"Hostname", "N1.example.internal"}};
}

struct Case {
  const char* name;
  std::function<void(ServingCsr&, std::optional<std::vector<NodeAddress>>&, ServingApprovalPolicy&)> change;
  Verdict verdict;
  const char* reason;
  const char* message_part;
};

class ServingRules : public ::testing::TestWithParam<Case> {};

TEST_P(ServingRules, Decide) {
  const Case& c = GetParam();
  ServingCsr csr = good_csr();
  std::optional<std::vector<NodeAddress>> node = n1_addresses();
  ServingApprovalPolicy policy;
  c.change(csr, node, policy);
  const ServingDecision d = decide_serving_csr(csr, node, policy);
  EXPECT_EQ(to_string(d.verdict), to_string(c.verdict)) << d.reason << ": " << d.message;
  EXPECT_EQ(d.reason, c.reason) << d.message;
  EXPECT_NE(d.message.find(c.message_part), std::string::npos) << d.message;
}

using Csr = ServingCsr;
using Node = std::optional<std::vector<NodeAddress>>;
using Policy = ServingApprovalPolicy;

INSTANTIATE_TEST_SUITE_P(
    Table, ServingRules,
    ::testing::Values(
        // Approve.
        Case{"MatchingNode", [](Csr&, Node&, Policy&) {}, Verdict::Approve, "KubeletCertdApproved",
             "SANs [n1.example.internal, 10.0.0.11, fd00::11] are Node n1's addresses"},
        Case{"OnlyAnIp",
             [](Csr& c, Node&, Policy&) {
               c.request->dns_names.clear();
               c.request->ip_addresses = {"10.0.0.11"};
             },
             Verdict::Approve, "KubeletCertdApproved", "usages [digital signature, server auth]"},
        Case{"KeyEnciphermentAndExpirationWithinPolicy",
             [](Csr& c, Node&, Policy& p) {
               c.usages = {"key encipherment", "digital signature", "server auth"};
               c.expiration_seconds = 86400;
               p.allowed_ip_ranges = {"10.0.0.0/24", "fd00::/64"};
               p.dns_pattern = R"(n1\.example\.internal)";
             },
             Verdict::Approve, "KubeletCertdApproved", "expirationSeconds 86400"},
        // Wait: nothing here is the node's fault yet.
        Case{"NodeNotThereYet", [](Csr&, Node& n, Policy&) { n.reset(); }, Verdict::Wait, "NodeNotFound",
             "Node n1 does not exist"},
        Case{"NodeWithoutAddresses", [](Csr&, Node& n, Policy&) { n->clear(); }, Verdict::Wait,
             "NodeHasNoAddresses", "no status.addresses"},
        Case{"BrokenPatternIsOurs", [](Csr&, Node&, Policy& p) { p.dns_pattern = "(["; }, Verdict::Wait,
             "PolicyInvalid", "pattern"},
        // Deny, each naming its rule.
        Case{"NotANodeUser", [](Csr& c, Node&, Policy&) { c.username = "system:serviceaccount:x:y"; },
             Verdict::Deny, "IdentityNotANode", "is not system:node:<name>"},
        Case{"NotInSystemNodes", [](Csr& c, Node&, Policy&) { c.groups = {"system:authenticated"}; },
             Verdict::Deny, "IdentityNotANode", "system:nodes"},
        Case{"UnparsableRequest",
             [](Csr& c, Node&, Policy&) {
               c.request.reset();
               c.request_problem = "not a PEM CERTIFICATE REQUEST";
             },
             Verdict::Deny, "RequestInvalid", "not a PEM"},
        Case{"BadSignature", [](Csr& c, Node&, Policy&) { c.request->signature_valid = false; },
             Verdict::Deny, "RequestInvalid", "signature"},
        Case{"OtherNodesCn",
             [](Csr& c, Node&, Policy&) { c.request->subject.common_name = "system:node:n2"; }, Verdict::Deny,
             "SubjectMismatch", "CN=system:node:n2"},
        Case{"ExtraOrganization",
             [](Csr& c, Node&, Policy&) { c.request->subject.organizations.push_back("system:masters"); },
             Verdict::Deny, "SubjectMismatch", "O=system:masters"},
        Case{"ExtraSubjectField", [](Csr& c, Node&, Policy&) { c.request->other_subject_fields = {"OU=x"}; },
             Verdict::Deny, "SubjectMismatch", "OU=x"},
        Case{"NoServerAuth", [](Csr& c, Node&, Policy&) { c.usages = {"digital signature"}; }, Verdict::Deny,
             "UsagesNotAllowed", "do not include server auth"},
        Case{"ClientAuthToo",
             [](Csr& c, Node&, Policy&) {
               c.usages = {"digital signature", "server auth", "client auth"};
             },
             Verdict::Deny, "UsagesNotAllowed", "client auth"},
        Case{"EmailSan", [](Csr& c, Node&, Policy&) { c.request->email_addresses = {"a@b.c"}; },
             Verdict::Deny, "SansNotAllowed", "a@b.c"},
        Case{"UriSan", [](Csr& c, Node&, Policy&) { c.request->uris = {"spiffe://x"}; }, Verdict::Deny,
             "SansNotAllowed", "spiffe://x"},
        Case{"NoSans",
             [](Csr& c, Node&, Policy&) {
               c.request->dns_names.clear();
               c.request->ip_addresses.clear();
             },
             Verdict::Deny, "SansNotAllowed", "no SAN"},
        Case{"TooLong", [](Csr& c, Node&, Policy&) { c.expiration_seconds = 400LL * 86400; }, Verdict::Deny,
             "ExpirationTooLong", "34560000"},
        Case{"DnsOutsidePattern", [](Csr&, Node&, Policy& p) { p.dns_pattern = R"(.*\.cluster\.local)"; },
             Verdict::Deny, "DnsNameNotAllowed", "n1.example.internal"},
        Case{"IpOutsideRanges", [](Csr&, Node&, Policy& p) { p.allowed_ip_ranges = {"192.168.0.0/16"}; },
             Verdict::Deny, "IpNotAllowed", "10.0.0.11"},
        Case{"AnotherNodesIp", [](Csr& c, Node&, Policy&) { c.request->ip_addresses = {"10.0.0.12"}; },
             Verdict::Deny, "SanNotOfNode", "IP SAN 10.0.0.12 is not among Node n1's addresses"},
        Case{"AnotherNodesName",
             [](Csr& c, Node&, Policy&) { c.request->dns_names = {"n2.example.internal"}; }, Verdict::Deny,
             "SanNotOfNode", "DNS SAN n2.example.internal"},
        Case{"AnIpGivenAsHostname",
             [](Csr&, Node& n, Policy&) {
               *n = {{"Hostname", "10.0.0.11"},
                     {"InternalIP", "fd00::11"},
                     {"Hostname", "n1.example.internal"}};
             },
             Verdict::Deny, "SanNotOfNode", "IP SAN 10.0.0.11"},
        Case{"NotOurSigner",
             [](Csr& c, Node&, Policy&) { c.signer_name = "kubernetes.io/kube-apiserver-client-kubelet"; },
             Verdict::NotOurs, "", "is not kubernetes.io/kubelet-serving"}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

// The rules read a request the way the agent builds it.
TEST(ServingRulesEndToEnd, TheAgentsOwnRequestIsApprovedForItsNode) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  CsrRequest req{Subject{"system:node:n1", {"system:nodes"}}, {"n1.example.internal"}, {"10.0.0.11"}};
  auto pem = build_csr_pem(key.get(), req);
  ASSERT_TRUE(pem) << pem.error().format();
  ServingCsr c = good_csr();
  auto parsed = parse_csr_pem(*pem);
  ASSERT_TRUE(parsed) << parsed.error().format();
  c.request = std::move(*parsed);
  EXPECT_EQ(decide_serving_csr(c, n1_addresses(), {}).verdict, Verdict::Approve);
  EXPECT_EQ(decide_serving_csr(c, std::vector<NodeAddress>{{"InternalIP", "10.0.0.12"}}, {}).reason,
            "SanNotOfNode");
}

// The operator's pattern is matched against names a node chose, in time linear in the name: with
// libstdc++'s default backtracking executor this pattern (a common way to write "labels joined by
// '-'") took 0.12 s on 22 characters and doubled per character, so one CSR with a 60-character
// DNS SAN held the approver's loop for longer than the test suite runs (this test then fails by
// ctest's timeout; with the fix it takes microseconds).
TEST(ServingRulesPattern, ANodesNameCannotMakeThePatternBacktrackExponentially) {
  ServingCsr csr = good_csr();
  csr.request->dns_names = {std::string(60, 'a')};
  ServingApprovalPolicy policy;
  policy.dns_pattern = R"(^([a-z0-9]+-?)*\.example\.com$)";
  const ServingDecision d = decide_serving_csr(csr, n1_addresses(), policy);
  EXPECT_EQ(d.verdict, Verdict::Deny);
  EXPECT_EQ(d.reason, "DnsNameNotAllowed") << d.message;
  // And the same pattern still matches what it should.
  csr.request->dns_names = {"n1-a-b.example.com"};
  EXPECT_NE(decide_serving_csr(csr, n1_addresses(), policy).reason, "DnsNameNotAllowed");
}

TEST(ServingRulesCidr, ProblemsAreNamed) {
  EXPECT_FALSE(cidr_problem("10.0.0.0/8"));
  EXPECT_FALSE(cidr_problem("fd00::/64"));
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "fd00::/129", "x/8", "10.0.0.0/", "10.0.0.0/-1"})
    EXPECT_TRUE(cidr_problem(bad)) << bad;
  EXPECT_TRUE(ip_in_cidr("10.1.2.3", "10.0.0.0/8"));
  EXPECT_TRUE(ip_in_cidr("10.0.0.7", "10.0.0.6/31"));
  EXPECT_FALSE(ip_in_cidr("10.0.0.8", "10.0.0.6/31"));
  EXPECT_TRUE(ip_in_cidr("fd00:0::11", "fd00::/64"));
  EXPECT_FALSE(ip_in_cidr("10.0.0.1", "fd00::/64"));
  EXPECT_TRUE(ip_in_cidr("192.168.1.1", "0.0.0.0/0"));
}

}  // namespace
}  // namespace kcd::rotation

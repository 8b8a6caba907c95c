// Issue 11: the shipped approver RBAC grants exactly what the approver needs (the list in the
// issue), to the approver's identity, and nothing else.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <tuple>

namespace {

using Grant = std::tuple<std::string, std::string, std::string, std::string>;  // group, resource, name, verb

std::set<Grant> grants(const YAML::Node& rules) {
  std::set<Grant> out;
  for (const auto& rule : rules) {
    std::vector<std::string> names = {""};
    if (rule["resourceNames"]) names = rule["resourceNames"].as<std::vector<std::string>>();
    for (const auto& g : rule["apiGroups"])
      for (const auto& r : rule["resources"])
        for (const auto& n : names)
          for (const auto& v : rule["verbs"])
            out.insert({g.as<std::string>(), r.as<std::string>(), n, v.as<std::string>()});
  }
  return out;
}

TEST(ApproverRbac, GrantsExactlyWhatTheApproverNeeds) {
  const auto docs =
      YAML::LoadAllFromFile(std::string(KCD_SOURCE_DIR) + "/packaging/kubernetes/approver-rbac.yaml");
  ASSERT_EQ(docs.size(), 4u);
  std::set<Grant> cluster, in_kube_system;
  int bindings = 0;
  for (const auto& d : docs) {
    const auto kind = d["kind"].as<std::string>();
    if (kind == "ClusterRole") cluster = grants(d["rules"]);
    if (kind == "Role") {
      EXPECT_EQ(d["metadata"]["namespace"].as<std::string>(), "kube-system");
      in_kube_system = grants(d["rules"]);
    }
    if (kind == "ClusterRoleBinding" || kind == "RoleBinding") {
      ++bindings;
      ASSERT_EQ(d["subjects"].size(), 1u);
      EXPECT_EQ(d["subjects"][0]["kind"].as<std::string>(), "User");
      EXPECT_EQ(d["subjects"][0]["name"].as<std::string>(), "system:kubelet-certd-approver");
      EXPECT_EQ(d["roleRef"]["name"].as<std::string>(), d["metadata"]["name"].as<std::string>());
    }
  }
  EXPECT_EQ(bindings, 2);
  const std::string csr = "certificatesigningrequests";
  EXPECT_EQ(cluster, (std::set<Grant>{
                         {"certificates.k8s.io", csr, "", "get"},
                         {"certificates.k8s.io", csr, "", "list"},
                         {"certificates.k8s.io", csr, "", "watch"},
                         {"certificates.k8s.io", csr + "/approval", "", "update"},
                         {"certificates.k8s.io", "signers", "kubernetes.io/kubelet-serving", "approve"},
                         {"", "nodes", "", "get"},
                         {"", "nodes", "", "list"},
                         {"", "nodes", "", "watch"},
                         {"", "events", "", "create"},
                         {"", "events", "", "patch"},
                         {"events.k8s.io", "events", "", "create"},
                         {"events.k8s.io", "events", "", "patch"},
                     }));
  EXPECT_EQ(in_kube_system, (std::set<Grant>{{"coordination.k8s.io", "leases", "", "create"},
                                             {"coordination.k8s.io", "leases", "", "get"},
                                             {"coordination.k8s.io", "leases", "", "update"}}));
}

}  // namespace

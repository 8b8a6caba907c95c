// The resources around CSRs that a serving-CSR approver and a node agent use, as the recorded
// kube-apiserver v1.24 serves them (second capture in tests/fixtures/k8s-api):
// - nodes (core/v1, cluster-scoped): create (NodeRestriction: a node only itself), get, list with
//   a metadata.name fieldSelector, and PATCH .../status (merge patch replaces lists, strategic
//   merge patch merges addresses and conditions by type; a no-op keeps the resourceVersion);
//   node-lifecycle's first steps after a create (the not-ready taint removed, the ttl annotation);
// - leases (coordination.k8s.io/v1, namespaced): create (409 AlreadyExists), get, update with a
//   resourceVersion precondition (409 Conflict);
// - events: core/v1 create and patch, events.k8s.io/v1 create, with the Node authorizer's and
//   validation's refusals; lists for the admin only (nodes and the approver may not read them).
// - configmaps (core/v1): kube-public/cluster-info as kubeadm publishes it and the bootstrapsigner
//   signs it, readable by system:anonymous only (kubeadm binds its Role to that user) and the
//   admin; everyone else gets RBAC's 403 (a node with the Node authorizer's reason). Any other
//   configmap is 403, or 404 for the admin.
// Watches of nodes are streamed by watch.hpp.
#pragma once

#include "tests/devapi/auth.hpp"
#include "tests/devapi/csr_api.hpp"
#include "tests/devapi/status.hpp"
#include "tests/devapi/store.hpp"

#include <boost/asio/io_context.hpp>

#include <optional>
#include <string>

namespace kcd::devapi {

// Strategic merge patch as the apiserver applies it to these types: objects merge key by key,
// null deletes, the lists `addresses`, `conditions` merge by `type` and `taints` by `key`, other
// lists are replaced.
ojson strategic_merge(ojson target, const ojson& patch);

// cluster-info's data.kubeconfig, in the shape kubeadm writes it (one cluster without a name,
// no contexts, no users): `bundle_pem` base64-encoded as certificate-authority-data.
std::string cluster_info_kubeconfig(const std::string& server, const std::string& bundle_pem);

class ClusterApi {
 public:
  ClusterApi(boost::asio::io_context& io, const Options& options, CsrStore& store)
      : io_(io), options_(options), store_(store) {}

  // `path` without the query; nullopt: not one of these resources. A watch of nodes that RBAC
  // allows sets `watch_nodes` and returns nullopt.
  std::optional<Reply> route(const Request& req, const std::string& path, const User& user,
                             const Query& query, bool& watch_nodes);

  // Stores kube-public/cluster-info for `server` and `bundle_pem`, with one
  // jws-kubeconfig-<token id> per bootstrap token. The first call stores it as if kubeadm init had
  // made it before devapi started (under the current resourceVersion, taking no new one); a later
  // call that changes data.kubeconfig gives it the next resourceVersion; one that changes nothing
  // keeps it.
  void publish_cluster_info(const std::string& server, const std::string& bundle_pem);

  // In-process admin operations (tests). A kubelet-style Node without status; false when it exists.
  bool create_node_as_admin(const std::string& name);
  // What PATCH .../status as the admin does; `manager` goes into managedFields.
  Reply patch_node_status(const std::string& name, const std::string& content_type, const std::string& body,
                          const std::string& manager = "devapi-admin");

 private:
  Reply nodes(const Request& req, const std::string& rest, const User& user, const Query& query,
              bool& watch_nodes);
  Reply leases(const Request& req, const std::string& ns, const std::string& rest, const User& user);
  Reply events(const Request& req, const std::string& group, const std::string& ns, const std::string& rest,
               const User& user);
  Reply configmaps(const Request& req, const std::string& ns, const std::string& rest, const User& user);
  Reply create_node(const Request& req, const User& user);
  const ojson& store_node(const ojson& body, const std::string& manager_name);
  void run_node_lifecycle(const std::string& name, int step);

  boost::asio::io_context& io_;
  const Options& options_;
  CsrStore& store_;
};

}  // namespace kcd::devapi

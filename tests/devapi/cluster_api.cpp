// Nodes, leases and events: who may do what (RBAC, the Node authorizer, NodeRestriction), the
// object shapes and the Status bodies, worded as recorded.
#include "tests/devapi/cluster_api.hpp"

#include "base/base64.hpp"
#include "config/cluster_info.hpp"
#include "tests/devapi/generated.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/field.hpp>

#include <cstdio>
#include <memory>
#include <set>
#include <vector>

namespace kcd::devapi {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view kNodesPrefix = "/api/v1/nodes";
constexpr std::string_view kCoreNamespaces = "/api/v1/namespaces/";
constexpr std::string_view kLeaseNamespaces = "/apis/coordination.k8s.io/v1/namespaces/";
constexpr std::string_view kEventsNamespaces = "/apis/events.k8s.io/v1/namespaces/";
constexpr const char* kCoordination = "coordination.k8s.io";
constexpr const char* kEventsGroup = "events.k8s.io";
constexpr const char* kKubePublic = "kube-public";
constexpr const char* kClusterInfo = "cluster-info";

// Status details: name (when known), group (not for the core group), kind = the resource.
ojson details(const std::string& resource, const std::string& group, const std::string& name) {
  ojson d = ojson::object();
  if (!name.empty()) d["name"] = name;
  if (!group.empty()) d["group"] = group;
  d["kind"] = resource;
  return d;
}

// "leases.coordination.k8s.io", or "nodes" for the core group.
std::string qualified(const std::string& resource, const std::string& group) {
  return group.empty() ? resource : resource + "." + group;
}

// RBAC's denial (plus the Node authorizer's reason when it gave one).
Reply denied(const User& user, const std::string& verb, const std::string& resource, const std::string& group,
             const std::string& ns, const std::string& name, const std::string& why = "") {
  const std::string plain = resource.substr(0, resource.find('/'));
  std::string msg = qualified(plain, group) + " ";
  if (!name.empty()) msg += go_quote(name) + " ";
  msg += "is forbidden: User " + go_quote(user.name) + " cannot " + verb + " resource " + go_quote(resource) +
         " in API group " + go_quote(group) +
         (ns.empty() ? std::string(" at the cluster scope") : " in the namespace " + go_quote(ns));
  if (!why.empty()) msg += ": " + why;
  return status_reply(status_object(403, "Forbidden", msg, details(plain, group, name)));
}

Reply not_found(const std::string& resource, const std::string& group, const std::string& name) {
  return status_reply(status_object(404, "NotFound",
                                    qualified(resource, group) + " " + go_quote(name) + " not found",
                                    details(resource, group, name)));
}

Reply already_exists(const std::string& resource, const std::string& group, const std::string& name) {
  return status_reply(status_object(409, "AlreadyExists",
                                    qualified(resource, group) + " " + go_quote(name) + " already exists",
                                    details(resource, group, name)));
}

// NodeRestriction: a node may modify only its own Node object.
Reply node_restriction(const std::string& self, const std::string& name) {
  return admission_forbidden("nodes " + go_quote(name) + " is forbidden: node " + go_quote(self) +
                                 " is not allowed to modify node " + go_quote(name),
                             details("nodes", "", name));
}

Reply bad_request(const std::string& message) {
  return status_reply(status_object(400, "BadRequest", message));
}

Reply unsupported_patch() {
  return status_reply(status_object(
      415, "UnsupportedMediaType",
      "the body of the request was in an unknown format - accepted media types include: "
      "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
      "application/strategic-merge-patch+json"));
}

// The decoded body of a create or update of `kind`; a 400 Reply when it is not one.
std::optional<Reply> decode(const Request& req, const std::string& kind, ojson& body) {
  const std::string ct(req[http::field::content_type]);
  if (ct.rfind("application/json", 0) != 0) {
    return status_reply(
        status_object(415, "UnsupportedMediaType",
                      "the body of the request was in an unknown format - accepted media types include: "
                      "application/json, application/yaml, application/vnd.kubernetes.protobuf"));
  }
  body = ojson::parse(req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return bad_request("the object provided is unrecognized (must be of type " + kind + ")");
  if (body.value("kind", "") != kind) {
    return bad_request(body.value("kind", "") + " cannot be handled as a " + kind);
  }
  if (!body.contains("metadata") || !body["metadata"].is_object() ||
      !body["metadata"].value("name", ojson()).is_string() || body["metadata"].value("name", "").empty()) {
    return status_reply(status_object(422, "Invalid",
                                      kind + " is invalid: metadata.name: Required value: name or "
                                             "generateName is required"));
  }
  return std::nullopt;
}

// Go serializes maps with sorted keys.
ojson sorted(const ojson& map) {
  std::map<std::string, ojson> s;
  for (auto it = map.begin(); it != map.end(); ++it) s[it.key()] = it.value();
  ojson out = ojson::object();
  for (auto& [k, v] : s) out[k] = v;
  return out;
}

// The server-side-apply record of an Update: the fields the request set, by name.
ojson fields_v1(const ojson& o, bool map_dots) {
  std::map<std::string, ojson> s;
  for (auto it = o.begin(); it != o.end(); ++it) {
    if (it.value().is_null()) continue;
    const bool atomic = it.key() == "involvedObject" || it.key() == "regarding";
    if (it.value().is_object() && !it.value().empty() && !atomic) {
      const bool is_map = it.key() == "labels" || it.key() == "annotations";
      ojson inner = fields_v1(it.value(), map_dots);
      if (is_map && map_dots) {
        ojson with_dot = ojson::object();
        with_dot["."] = ojson::object();
        for (auto jt = inner.begin(); jt != inner.end(); ++jt) with_dot[jt.key()] = jt.value();
        inner = with_dot;
      }
      s["f:" + it.key()] = inner;
    } else {
      s["f:" + it.key()] = ojson::object();
    }
  }
  ojson out = ojson::object();
  for (auto& [k, v] : s) out[k] = v;
  return out;
}

std::string manager(const Request& req) {
  const std::string user_agent(req[http::field::user_agent]);
  return user_agent.substr(0, user_agent.find('/'));
}

ojson managed_fields(const std::string& manager, const std::string& api_version, const ojson& fields) {
  ojson mf = ojson::object();
  mf["manager"] = manager;
  mf["operation"] = "Update";
  mf["apiVersion"] = api_version;
  mf["time"] = now_rfc3339();
  mf["fieldsType"] = "FieldsV1";
  mf["fieldsV1"] = fields;
  return ojson::array({mf});
}

// The metadata of a new object in the recorded key order; the store fills uid,
// resourceVersion and creationTimestamp.
ojson new_metadata(const ojson& given, const std::string& ns) {
  ojson m = ojson::object();
  m["name"] = given.value("name", "");
  if (!ns.empty()) m["namespace"] = ns;
  m["uid"] = "";
  m["resourceVersion"] = "";
  m["creationTimestamp"] = "";
  if (given.contains("labels") && given["labels"].is_object()) m["labels"] = sorted(given["labels"]);
  if (given.contains("annotations") && given["annotations"].is_object())
    m["annotations"] = sorted(given["annotations"]);
  return m;
}

// NodeStatus and its list entries in Go's field order.
ojson ordered(const ojson& o, const std::vector<std::string>& order) {
  ojson out = ojson::object();
  for (const auto& k : order) {
    if (o.contains(k)) out[k] = o[k];
  }
  for (auto it = o.begin(); it != o.end(); ++it) {
    if (!out.contains(it.key())) out[it.key()] = it.value();
  }
  return out;
}

ojson normalized_status(const ojson& status) {
  ojson s = ordered(status, {"capacity", "allocatable", "phase", "conditions", "addresses", "daemonEndpoints",
                             "nodeInfo", "images", "volumesInUse", "volumesAttached", "config"});
  if (s.contains("conditions") && s["conditions"].is_array()) {
    for (auto& c : s["conditions"])
      c = ordered(c, {"type", "status", "lastHeartbeatTime", "lastTransitionTime", "reason", "message"});
  }
  if (s.contains("addresses") && s["addresses"].is_array()) {
    for (auto& a : s["addresses"]) a = ordered(a, {"type", "address"});
  }
  return s;
}

ojson merge_list(ojson target, const ojson& patch, const std::string& key) {
  for (const auto& item : patch) {
    bool merged = false;
    if (item.is_object() && item.contains(key)) {
      for (auto& t : target) {
        if (t.is_object() && t.value(key, ojson()) == item[key]) {
          t = strategic_merge(t, item);
          merged = true;
          break;
        }
      }
    }
    if (!merged) target.push_back(item);
  }
  return target;
}

// The status fields a manager owns after a status update, keyed lists by type.
ojson status_fields(const ojson& status) {
  std::map<std::string, ojson> fields;
  for (auto it = status.begin(); it != status.end(); ++it) {
    if (it.key() == "daemonEndpoints" || it.key() == "nodeInfo") continue;  // the server's defaults
    if (it.value().is_array() && (it.key() == "addresses" || it.key() == "conditions")) {
      std::map<std::string, ojson> items;
      for (const auto& item : it.value()) {
        ojson keys = ojson::object();
        keys["."] = ojson::object();
        std::map<std::string, ojson> sorted_keys;
        for (auto jt = item.begin(); jt != item.end(); ++jt) sorted_keys["f:" + jt.key()] = ojson::object();
        for (auto& [k, v] : sorted_keys) keys[k] = v;
        items["k:" + ojson{{"type", item.value("type", "")}}.dump()] = keys;
      }
      ojson list = ojson::object();
      list["."] = ojson::object();
      for (auto& [k, v] : items) list[k] = v;
      fields["f:" + it.key()] = list;
    } else {
      fields["f:" + it.key()] = ojson::object();
    }
  }
  ojson out = ojson::object();
  for (auto& [k, v] : fields) out[k] = v;
  return ojson{{"f:status", out}};
}

// Records `manager`'s Update of the status subresource in managedFields.
void record_status_update(ojson& node, const std::string& manager) {
  ojson& entries = node["metadata"]["managedFields"];
  if (!entries.is_array()) entries = ojson::array();
  const ojson fields = status_fields(node["status"]);
  for (auto& e : entries) {
    if (e.value("manager", "") == manager && e.value("subresource", "") == "status") {
      if (e["fieldsV1"] != fields) {
        e["time"] = now_rfc3339();
        e["fieldsV1"] = fields;
      }
      return;
    }
  }
  ojson e = ojson::object();
  e["manager"] = manager;
  e["operation"] = "Update";
  e["apiVersion"] = "v1";
  e["time"] = now_rfc3339();
  e["fieldsType"] = "FieldsV1";
  e["fieldsV1"] = fields;
  e["subresource"] = "status";
  entries.push_back(e);
}

std::string path_segment(std::string& rest) {
  const auto slash = rest.find('/');
  std::string seg = rest.substr(0, slash);
  rest = slash == std::string::npos ? "" : rest.substr(slash + 1);
  return seg;
}

bool is_patch(const Request& req) {
  return req.method() == http::verb::patch;
}

}  // namespace

ojson strategic_merge(ojson target, const ojson& patch) {
  if (!patch.is_object() || !target.is_object()) return patch;
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    const ojson& v = it.value();
    if (v.is_null()) {
      target.erase(k);
    } else if (v.is_object() && target.contains(k) && target[k].is_object()) {
      target[k] = strategic_merge(target[k], v);
    } else if (v.is_array() && target.contains(k) && target[k].is_array() &&
               (k == "addresses" || k == "conditions" || k == "taints")) {
      target[k] = merge_list(target[k], v, k == "taints" ? "key" : "type");
    } else {
      target[k] = v;
    }
  }
  return target;
}

std::optional<Reply> ClusterApi::route(const Request& req, const std::string& path, const User& user,
                                       const Query& query, bool& watch_nodes) {
  if (path == kNodesPrefix || path.rfind(std::string(kNodesPrefix) + "/", 0) == 0) {
    std::string rest = path.substr(kNodesPrefix.size());
    if (!rest.empty()) rest.erase(0, 1);
    Reply r = nodes(req, rest, user, query, watch_nodes);
    if (watch_nodes) return std::nullopt;
    return r;
  }
  if (path == "/api/v1/events") {
    if (req.method() != http::verb::get) return method_not_allowed();
    if (!is_cluster_admin(user)) return denied(user, "list", "events", "", "", "");
    return events(req, "", "", "", user);
  }
  for (const auto& [prefix, kind] : {std::pair{kCoreNamespaces, "core"}, std::pair{kLeaseNamespaces, "lease"},
                                     std::pair{kEventsNamespaces, "events"}}) {
    if (path.rfind(prefix, 0) != 0) continue;
    std::string rest = path.substr(prefix.size());
    const std::string ns = path_segment(rest);
    const std::string resource = path_segment(rest);
    if (std::string(kind) == "lease" && resource == "leases") return leases(req, ns, rest, user);
    if (std::string(kind) == "core" && resource == "events") return events(req, "", ns, rest, user);
    if (std::string(kind) == "core" && resource == "configmaps") return configmaps(req, ns, rest, user);
    if (std::string(kind) == "events" && resource == "events")
      return events(req, kEventsGroup, ns, rest, user);
  }
  return std::nullopt;
}

// --- configmaps: kube-public/cluster-info ---

std::string cluster_info_kubeconfig(const std::string& server, const std::string& bundle_pem) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: " +
         base64_encode(bundle_pem) + "\n    server: " + server +
         "\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\npreferences: {}\nusers: null\n";
}

void ClusterApi::publish_cluster_info(const std::string& server, const std::string& bundle_pem) {
  const std::string kubeconfig = cluster_info_kubeconfig(server, bundle_pem);
  ojson* existing = store_.find_object("configmaps", kKubePublic, kClusterInfo);
  if (existing != nullptr && (*existing)["data"]["kubeconfig"] == kubeconfig) return;
  // data in Go's map order (sorted keys: every jws-kubeconfig-* sorts before kubeconfig).
  std::map<std::string, std::string> data{{"kubeconfig", kubeconfig}};
  ojson signed_fields = ojson::object();
  for (const auto& t : options_.bootstrap_tokens) {
    const auto token = config::parse_bootstrap_token(t);
    if (!token) continue;
    data["jws-kubeconfig-" + token->id] = config::detached_jws(kubeconfig, *token);
    signed_fields["f:jws-kubeconfig-" + token->id] = ojson::object();
  }
  ojson d = ojson::object();
  for (const auto& [k, v] : data) d[k] = v;
  // kubeadm writes data.kubeconfig, then kube-controller-manager's bootstrapsigner the signatures.
  ojson kubeadm_fields = ojson::object();
  kubeadm_fields["f:data"] = ojson{{".", ojson::object()}, {"f:kubeconfig", ojson::object()}};
  ojson managed = managed_fields("kubeadm", "v1", kubeadm_fields);
  if (!signed_fields.empty()) {
    managed.push_back(managed_fields("kube-controller-manager", "v1", ojson{{"f:data", signed_fields}})[0]);
  }
  if (existing != nullptr) {
    (*existing)["metadata"]["managedFields"] = managed;
    (*existing)["data"] = d;
    store_.modified_object("configmaps", *existing);
    return;
  }
  ojson cm = ojson::object();
  cm["kind"] = "ConfigMap";
  cm["apiVersion"] = "v1";
  cm["metadata"] = new_metadata(ojson{{"name", kClusterInfo}}, kKubePublic);
  cm["metadata"]["managedFields"] = managed;
  cm["data"] = d;
  store_.create_preexisting_object("configmaps", kKubePublic, std::move(cm));
}

Reply ClusterApi::configmaps(const Request& req, const std::string& ns, const std::string& rest,
                             const User& user) {
  const std::string name = rest.substr(0, rest.find('/'));
  if (req.method() != http::verb::get || name.empty() || name.size() != rest.size())
    return method_not_allowed();
  // kubeadm's Role kubeadm:bootstrap-signer-clusterinfo: get on this one ConfigMap, bound to the
  // user system:anonymous (not to system:unauthenticated, nor to anyone authenticated).
  const bool cluster_info = ns == kKubePublic && name == kClusterInfo;
  const bool allowed = is_cluster_admin(user) || (cluster_info && user.name == "system:anonymous");
  if (!allowed) {
    const std::string self = node_of(user);
    return denied(user, "get", "configmaps", "", ns, name,
                  self.empty() ? "" : "no relationship found between node '" + self + "' and this object");
  }
  const ojson* o = store_.find_object("configmaps", ns, name);
  if (o == nullptr) return not_found("configmaps", "", name);
  return object_reply(200, *o);
}

// --- nodes ---

Reply ClusterApi::nodes(const Request& req, const std::string& rest_in, const User& user, const Query& query,
                        bool& watch_nodes) {
  std::string rest = rest_in;
  const std::string name = path_segment(rest);
  const std::string sub = rest;
  const std::string self = node_of(user);
  const bool reader = is_cluster_admin(user) || is_serving_approver(user) || !self.empty();
  if (name.empty()) {
    if (req.method() == http::verb::post) return create_node(req, user);
    if (req.method() != http::verb::get) return method_not_allowed();
    const bool watch = query.count("watch") && (query.at("watch") == "true" || query.at("watch") == "1");
    if (!reader) return denied(user, watch ? "watch" : "list", "nodes", "", "", "");
    if (watch) {
      watch_nodes = true;
      return Reply{};
    }
    const std::string only = name_selector(query);
    ojson items = ojson::array();
    for (const ojson* o : store_.objects("nodes")) {
      if (!only.empty() && (*o)["metadata"]["name"] != only) continue;
      ojson item = *o;
      item.erase("kind");
      item.erase("apiVersion");
      items.push_back(item);
    }
    ojson l = ojson::object();
    l["kind"] = "NodeList";
    l["apiVersion"] = "v1";
    l["metadata"] = ojson{{"resourceVersion", std::to_string(store_.resource_version())}};
    l["items"] = items;
    return object_reply(200, l);
  }
  if (sub.empty() && req.method() == http::verb::get) {
    // kubeadm's get-nodes role lets bootstrap tokens get nodes too.
    if (!reader && !user.in("system:bootstrappers")) return denied(user, "get", "nodes", "", "", name);
    const ojson* o = store_.find_object("nodes", "", name);
    if (o == nullptr) return not_found("nodes", "", name);
    return object_reply(200, *o);
  }
  if (sub == "status" && is_patch(req)) {
    if (!is_cluster_admin(user) && self.empty()) return denied(user, "patch", "nodes/status", "", "", name);
    if (!self.empty() && self != name) {
      return node_restriction(self, name);
    }
    return patch_node_status(name, std::string(req[http::field::content_type]), req.body(), manager(req));
  }
  return method_not_allowed();
}

Reply ClusterApi::create_node(const Request& req, const User& user) {
  const std::string self = node_of(user);
  if (!is_cluster_admin(user) && self.empty()) return denied(user, "create", "nodes", "", "", "");
  ojson body;
  if (auto bad = decode(req, "Node", body)) return *bad;
  const std::string name = body["metadata"]["name"];
  if (!self.empty() && self != name) {
    return node_restriction(self, name);
  }
  if (store_.find_object("nodes", "", name) != nullptr) return already_exists("nodes", "", name);
  return object_reply(201, store_node(body, manager(req)));
}

bool ClusterApi::create_node_as_admin(const std::string& name) {
  if (store_.find_object("nodes", "", name) != nullptr) return false;
  ojson labels = ojson::object();
  for (const char* k : {"beta.kubernetes.io/arch", "kubernetes.io/arch"}) labels[k] = "amd64";
  for (const char* k : {"beta.kubernetes.io/os", "kubernetes.io/os"}) labels[k] = "linux";
  labels["kubernetes.io/hostname"] = name;
  ojson body = ojson::object();
  body["metadata"] =
      ojson{{"name", name},
            {"labels", labels},
            {"annotations", ojson{{"volumes.kubernetes.io/controller-managed-attach-detach", "true"}}}};
  store_node(body, "kubectl-create");
  return true;
}

const ojson& ClusterApi::store_node(const ojson& body, const std::string& manager_name) {
  const std::string name = body["metadata"]["name"];
  ojson node = ojson::object();
  node["kind"] = "Node";
  node["apiVersion"] = "v1";
  node["metadata"] = new_metadata(body["metadata"], "");
  ojson meta_fields = ojson::object();
  meta_fields["metadata"] = body["metadata"];
  meta_fields["metadata"].erase("name");
  node["metadata"]["managedFields"] = managed_fields(manager_name, "v1", fields_v1(meta_fields, true));
  ojson spec = body.value("spec", ojson::object());
  // TaintNodesByCondition: a new node is not ready until its controller says otherwise.
  ojson taint = ojson::object();
  taint["key"] = "node.kubernetes.io/not-ready";
  taint["effect"] = "NoSchedule";
  spec["taints"] = merge_list(spec.value("taints", ojson::array()), ojson::array({taint}), "key");
  node["spec"] = spec;
  ojson status = body.value("status", ojson::object());
  status["daemonEndpoints"] = ojson{{"kubeletEndpoint", ojson{{"Port", 0}}}};
  ojson info = ojson::object();
  for (const char* k :
       {"machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
        "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture"})
    info[k] = "";
  status["nodeInfo"] = info;
  node["status"] = normalized_status(status);
  const ojson& stored = store_.create_object("nodes", "", std::move(node));
  run_node_lifecycle(name, 0);
  return stored;
}

// kube-controller-manager right after a registration, as recorded: the node-lifecycle controller
// removes the not-ready taint (a node without conditions), then the ttl controller annotates it.
void ClusterApi::run_node_lifecycle(const std::string& name, int step) {
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, options_.approve_delay);
  timer->async_wait([this, timer, name, step](boost::system::error_code ec) {
    if (ec) return;
    ojson* node = store_.find_object("nodes", "", name);
    if (node == nullptr) return;
    if (step == 0) {
      ojson& spec = (*node)["spec"];
      ojson kept = ojson::array();
      for (const auto& t : spec.value("taints", ojson::array())) {
        if (t.value("key", "") != "node.kubernetes.io/not-ready") kept.push_back(t);
      }
      if (kept.empty()) {
        spec.erase("taints");
      } else {
        spec["taints"] = kept;
      }
      store_.modified_object("nodes", *node);
      run_node_lifecycle(name, 1);
    } else {
      ojson& meta = (*node)["metadata"];
      ojson annotations = meta.value("annotations", ojson::object());
      annotations["node.alpha.kubernetes.io/ttl"] = "0";
      ojson rebuilt = ojson::object();
      for (auto it = meta.begin(); it != meta.end(); ++it) {
        if (it.key() == "managedFields" && !rebuilt.contains("annotations")) rebuilt["annotations"] = ojson();
        rebuilt[it.key()] = it.value();
      }
      rebuilt["annotations"] = sorted(annotations);
      // The ttl controller's own managedFields entry comes first, as recorded.
      ojson fields = ojson::object();
      fields["metadata"] = ojson{{"annotations", ojson{{"node.alpha.kubernetes.io/ttl", "0"}}}};
      ojson entries = managed_fields("kube-controller-manager", "v1", fields_v1(fields, false));
      for (const auto& e : rebuilt.value("managedFields", ojson::array())) entries.push_back(e);
      rebuilt["managedFields"] = entries;
      meta = rebuilt;
      store_.modified_object("nodes", *node);
    }
  });
}

Reply ClusterApi::patch_node_status(const std::string& name, const std::string& content_type,
                                    const std::string& body, const std::string& manager_name) {
  ojson* node = store_.find_object("nodes", "", name);
  if (node == nullptr) return not_found("nodes", "", name);
  const ojson patch = ojson::parse(body, nullptr, false);
  if (patch.is_discarded() || !patch.is_object()) return bad_request("the patch is not a JSON object");
  ojson changed = *node;
  if (content_type.rfind("application/merge-patch+json", 0) == 0) {
    changed.merge_patch(patch);
  } else if (content_type.rfind("application/strategic-merge-patch+json", 0) == 0) {
    changed = strategic_merge(changed, patch);
  } else {
    return unsupported_patch();
  }
  // Through the status subresource only status changes.
  ojson status = normalized_status(changed.value("status", ojson::object()));
  if (status == (*node)["status"]) return object_reply(200, *node);
  (*node)["status"] = status;
  record_status_update(*node, manager_name);
  store_.modified_object("nodes", *node);
  return object_reply(200, *node);
}

// --- leases ---

Reply ClusterApi::leases(const Request& req, const std::string& ns, const std::string& rest,
                         const User& user) {
  const std::string name = rest.substr(0, rest.find('/'));
  const bool post = req.method() == http::verb::post && name.empty();
  const bool get = req.method() == http::verb::get && !name.empty();
  const bool put = req.method() == http::verb::put && !name.empty();
  if (!post && !get && !put) return method_not_allowed();
  const std::string verb = post ? "create" : get ? "get" : "update";
  const std::string self = node_of(user);
  bool allowed = is_cluster_admin(user) || (is_serving_approver(user) && ns == "kube-system");
  std::string why;
  if (!self.empty()) {
    allowed = ns == "kube-node-lease";
    why = "can only access leases in the \"kube-node-lease\" system namespace";
  }
  if (!allowed) return denied(user, verb, "leases", kCoordination, ns, name, why);
  if (get) {
    const ojson* o = store_.find_object("leases", ns, name);
    if (o == nullptr) return not_found("leases", kCoordination, name);
    return object_reply(200, *o);
  }
  ojson body;
  if (auto bad = decode(req, "Lease", body)) return *bad;
  if (post) {
    const std::string new_name = body["metadata"]["name"];
    if (store_.find_object("leases", ns, new_name) != nullptr)
      return already_exists("leases", kCoordination, new_name);
    ojson lease = ojson::object();
    lease["kind"] = "Lease";
    lease["apiVersion"] = "coordination.k8s.io/v1";
    lease["metadata"] = new_metadata(body["metadata"], ns);
    ojson spec = body.value("spec", ojson::object());
    lease["metadata"]["managedFields"] =
        managed_fields(manager(req), "coordination.k8s.io/v1", fields_v1(ojson{{"spec", spec}}, false));
    lease["spec"] = spec;
    return object_reply(201, store_.create_object("leases", ns, std::move(lease)));
  }
  ojson* lease = store_.find_object("leases", ns, name);
  if (lease == nullptr) return not_found("leases", kCoordination, name);
  const std::string rv = body["metadata"].value("resourceVersion", "");
  if (!rv.empty() && rv != (*lease)["metadata"]["resourceVersion"])
    return conflict("leases.coordination.k8s.io", name, details("leases", kCoordination, name));
  (*lease)["spec"] = body.value("spec", ojson::object());
  store_.modified_object("leases", *lease);
  return object_reply(200, *lease);
}

// --- events ---

Reply ClusterApi::events(const Request& req, const std::string& group, const std::string& ns,
                         const std::string& rest, const User& user) {
  const std::string name = rest.substr(0, rest.find('/'));
  const bool post = req.method() == http::verb::post && name.empty();
  const bool patch = is_patch(req) && !name.empty();
  const bool list = req.method() == http::verb::get && name.empty();
  const bool get = req.method() == http::verb::get && !name.empty();
  if (!post && !patch && !list && !get) return method_not_allowed();
  const std::string verb = post ? "create" : patch ? "patch" : list ? "list" : "get";
  const bool node = !node_of(user).empty();
  // Nodes: the static node rules cover create/patch of core events only; the approver's
  // ClusterRole covers create/patch in both groups; reading takes the admin.
  bool allowed = is_cluster_admin(user);
  if ((post || patch) && ((node && group.empty()) || is_serving_approver(user))) allowed = true;
  if (!allowed) return denied(user, verb, "events", group, ns, name);
  if (list) {
    ojson items = ojson::array();
    // Both groups share one storage: a list shows the events posted through either.
    for (const ojson* o : store_.objects("events", ns)) {
      ojson item = *o;
      item.erase("kind");
      item.erase("apiVersion");
      items.push_back(item);
    }
    ojson l = ojson::object();
    l["kind"] = "EventList";
    l["apiVersion"] = group.empty() ? "v1" : "events.k8s.io/v1";
    l["metadata"] = ojson{{"resourceVersion", std::to_string(store_.resource_version())}};
    l["items"] = items;
    return object_reply(200, l);
  }
  if (get || patch) {
    ojson* event = store_.find_object("events", ns, name);
    if (event == nullptr) return not_found("events", group, name);
    if (get) return object_reply(200, *event);
    const std::string ct(req[http::field::content_type]);
    const ojson p = ojson::parse(req.body(), nullptr, false);
    if (p.is_discarded() || !p.is_object()) return bad_request("the patch is not a JSON object");
    ojson changed = *event;
    if (ct.rfind("application/merge-patch+json", 0) == 0) {
      changed.merge_patch(p);
    } else if (ct.rfind("application/strategic-merge-patch+json", 0) == 0) {
      changed = strategic_merge(changed, p);
    } else {
      return unsupported_patch();
    }
    changed["metadata"] = (*event)["metadata"];
    if (changed == *event) return object_reply(200, *event);
    *event = changed;
    store_.modified_object("events", *event);
    return object_reply(200, *event);
  }
  ojson body;
  if (auto bad = decode(req, "Event", body)) return *bad;
  const std::string new_name = body["metadata"]["name"];
  const bool legacy = group.empty();
  const std::string api_version = legacy ? "v1" : "events.k8s.io/v1";
  // Validation (legacy events without eventTime): about a cluster-scoped object only in default,
  // about a namespaced one only in its namespace.
  if (legacy && body.value("eventTime", ojson()).is_null()) {
    const ojson involved = body.value("involvedObject", ojson::object());
    const std::string involved_ns = involved.value("namespace", "");
    const bool ok = involved_ns.empty() ? (ns == "default" || ns.empty()) : involved_ns == ns;
    if (!ok) {
      const std::string message =
          "Invalid value: " + go_quote(involved_ns) + ": does not match event.namespace";
      ojson cause = ojson::object();
      cause["reason"] = "FieldValueInvalid";
      cause["message"] = message;
      cause["field"] = "involvedObject.namespace";
      ojson d = ojson::object();
      d["name"] = new_name;
      d["kind"] = "Event";
      d["causes"] = ojson::array({cause});
      return status_reply(status_object(
          422, "Invalid", "Event " + go_quote(new_name) + " is invalid: involvedObject.namespace: " + message,
          d));
    }
  }
  if (store_.find_object("events", ns, new_name) != nullptr) return already_exists("events", group, new_name);
  ojson event = ojson::object();
  event["kind"] = "Event";
  event["apiVersion"] = api_version;
  event["metadata"] = new_metadata(body["metadata"], ns);
  ojson fields = ojson::object();
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() == "kind" || it.key() == "apiVersion" || it.key() == "metadata") continue;
    fields[it.key()] = it.value();
  }
  event["metadata"]["managedFields"] = managed_fields(manager(req), api_version, fields_v1(fields, false));
  for (auto it = fields.begin(); it != fields.end(); ++it) event[it.key()] = it.value();
  if (!legacy) {
    // The server converts through the internal type: the deprecated fields come back.
    if (!event.contains("deprecatedSource")) event["deprecatedSource"] = ojson::object();
    if (!event.contains("deprecatedFirstTimestamp")) event["deprecatedFirstTimestamp"] = nullptr;
    if (!event.contains("deprecatedLastTimestamp")) event["deprecatedLastTimestamp"] = nullptr;
  }
  return object_reply(201, store_.create_object("events", ns, std::move(event)));
}

}  // namespace kcd::devapi

// The object store: CertificateSigningRequests by name, the other resources (nodes, leases,
// events) as their JSON objects, the one resourceVersion counter they share (etcd's revision),
// and the window of recent events that watches replay (an older resourceVersion gets 410 Expired).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::devapi {

using ojson = nlohmann::ordered_json;

// One CSR as the apiserver keeps it; to_json() writes the keys in the recorded order.
struct CsrObject {
  std::string name, generate_name, uid, created;
  long resource_version = 0;
  ojson managed_fields;  // only for generateName creates, as recorded
  std::string request_b64, request_pem, signer;
  std::vector<std::string> usages;
  std::optional<long long> expiration_seconds;
  std::string username;
  std::vector<std::string> groups;
  ojson conditions = ojson::array();
  std::string certificate_b64;
  // When the POST stored it and when the signer put the certificate in (steady clock): the
  // server's own approve + sign time, which the bench subtracts from the client's total.
  std::chrono::steady_clock::time_point created_at, issued_at;

  bool has_condition(std::string_view type) const;
  ojson to_json() const;
};

// One event, serialized once when it happens so that every watch sends the same bytes.
struct WatchEvent {
  long resource_version;
  std::string resource;  // "certificatesigningrequests", "nodes", "leases", "events"
  std::string type;
  std::string name;
  std::string signer;  // a CSR's spec.signerName (for fieldSelector=spec.signerName=...)
  std::string line;    // "\n"-terminated
};

class CsrStore {
 public:
  CsrStore(long initial_resource_version, int history_limit);

  // Called after every event: waiting watches must wake up to send it.
  void set_event_listener(std::function<void()> listener) { listener_ = std::move(listener); }

  const std::map<std::string, CsrObject>& csrs() const { return csrs_; }
  bool contains(const std::string& name) const { return csrs_.count(name) > 0; }
  CsrObject* find(const std::string& name);

  // Stores a new CSR (the name must be free), giving it its uid, creationTimestamp and
  // resourceVersion as the registry does; ADDED.
  const CsrObject& create(CsrObject csr);
  // A stored CSR changed: the next resourceVersion; MODIFIED.
  void modified(CsrObject& csr);
  // DELETED under the next resourceVersion; false when there is no such CSR.
  bool remove(const std::string& name);

  // Other resources, keyed by resource, namespace ("" when cluster-scoped) and name. create
  // fills metadata.uid, resourceVersion and creationTimestamp (keys already present keep their
  // place, so the caller decides the order). Only nodes are watched: their changes go into the
  // watch history (ADDED, MODIFIED); leases and events do not crowd CSR events out of it.
  const ojson* find_object(const std::string& resource, const std::string& ns, const std::string& name) const;
  ojson* find_object(const std::string& resource, const std::string& ns, const std::string& name);
  const ojson& create_object(const std::string& resource, const std::string& ns, ojson object);
  // Like create_object for an object that existed before devapi started (kubeadm init made it):
  // stored under the current resourceVersion, so the first object devapi creates still gets
  // initial_resource_version + 1. Not watched.
  const ojson& create_preexisting_object(const std::string& resource, const std::string& ns, ojson object);
  // A stored object changed: the next resourceVersion.
  void modified_object(const std::string& resource, ojson& object);
  // Every object of `resource` in `ns` (every namespace when empty), by namespace and name.
  std::vector<const ojson*> objects(const std::string& resource, const std::string& ns = "") const;

  long resource_version() const { return resource_version_; }
  int created() const { return created_; }
  const std::deque<WatchEvent>& history() const { return history_; }
  // The oldest event still in the window (the current resourceVersion when it is empty).
  long oldest_retained() const {
    return history_.empty() ? resource_version_ : history_.front().resource_version;
  }
  // A watch from `version` would need events the window has dropped.
  bool compacted(long version) const { return version < oldest_retained() - 1; }

 private:
  void emit(const std::string& type, const CsrObject& csr);
  void emit(const std::string& resource, const std::string& type, const std::string& name, long version,
            const ojson& object, const std::string& signer = "");

  int history_limit_;
  long resource_version_;
  int created_ = 0;
  std::map<std::string, CsrObject> csrs_;
  std::map<std::string, std::map<std::string, ojson>> objects_;  // resource -> "ns/name" -> object
  std::deque<WatchEvent> history_;
  std::function<void()> listener_;
};

}  // namespace kcd::devapi

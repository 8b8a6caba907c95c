// The API objects besides CSRs that kubelet-certd reads and writes: Nodes (their addresses),
// coordination.k8s.io/v1 Leases (leader election) and core/v1 Events. Pure data, request bodies
// in the recorded shapes, and response parsing; no I/O.
//
// Events are core/v1 on purpose: the Node authorizer grants a node create/update/patch of
// events only in the core group (a node's events.k8s.io/v1 Event is answered 403, recorded in
// event-create-403-events-k8s-io-as-node.json), and the approver's RBAC names the same group.
#pragma once

#include "daemon/api/types.hpp"
#include "rotation/serving_approval.hpp"

#include "base/rfc3339.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::api {

struct Node {
  std::string name, uid, resource_version;
  std::vector<rotation::NodeAddress> addresses;  // status.addresses, in the server's order
};
// What the serving-CSR rules (rotation::decide_serving_csr) need from a CSR object, its request
// parsed: the approver judges the CSRs it sees, the agent the one it is about to file.
rotation::ServingCsr serving_csr_of(const Csr& csr);

// GET /api/v1/nodes/<name>: the Node on 200, else the typed error (404: ErrorKind::NotFound).
Result<Node> node_from_response(int http_status, std::string_view body, std::string_view retry_after_header);

// A ConfigMap's data (kube-public/cluster-info is the one read). At most kMaxConfigMapKeys keys;
// every value a string (the body limit bounds their size).
inline constexpr std::size_t kMaxConfigMapKeys = 1000;
struct ConfigMap {
  std::string namespace_, name, resource_version;
  std::map<std::string, std::string> data;
};
// GET /api/v1/namespaces/<ns>/configmaps/<name>: the ConfigMap on 200, else the typed error.
Result<ConfigMap> config_map_from_response(int http_status, std::string_view body,
                                           std::string_view retry_after_header);

// A Lease's spec and resourceVersion. Times are MicroTime: RFC 3339 with microseconds.
struct Lease {
  std::string namespace_, name, resource_version;
  std::string holder;
  std::int64_t lease_duration_seconds = 0;
  std::optional<SysTime> acquire_time, renew_time;
  std::int64_t transitions = 0;
};
// The body of a create (no resourceVersion) or an update (with the one read: a stale one is a
// 409 Conflict), in client-go's shape.
std::string lease_body(const Lease& lease);
// A Lease from a get/create/update response (`expected_status`: 200, or 201 for a create).
Result<Lease> lease_from_response(int http_status, std::string_view body, std::string_view retry_after_header,
                                  int expected_status);
// "2026-12-02T07:28:07.215931Z"
std::string micro_time(SysTime t);

// A core/v1 Event, as client-go's recorder writes it (recorded: event-create-201-as-node.json).
struct EventRecord {
  std::string namespace_ = "default";
  std::string name;  // "<involved name>.<hex nanoseconds>", as client-go names them
  struct Object {
    std::string kind, name, uid, api_version, resource_version;
  } involved;
  std::string type = "Normal";  // Normal or Warning
  std::string reason;           // CamelCase
  std::string message;
  std::string component;  // source.component and reportingComponent
  std::string host;       // source.host and reportingInstance
  SysTime first{}, last{};
  std::int64_t count = 1;
};
// client-go's name for an event about `object` at `t`.
std::string event_name(const std::string& object, SysTime t);
std::string event_create_body(const EventRecord& e);
// A repeat: the strategic merge patch client-go's correlator sends (count, lastTimestamp, message).
std::string event_patch_body(const EventRecord& e);
// 201 (create) or 200 (patch): nothing more is needed from the answer.
Result<void> event_from_response(int http_status, std::string_view body, std::string_view retry_after_header,
                                 int expected_status);

}  // namespace kcd::api

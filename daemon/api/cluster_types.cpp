#include "daemon/api/cluster_types.hpp"

#include "base/outside_text.hpp"
#include "base/rfc3339.hpp"

#include <cstdio>

namespace kcd::api {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

std::string str(const json& j, const char* key) {
  return string_field(j, key);
}

Unexpected<Error> unexpected(int http_status, const std::string& what, std::string message) {
  Error e = make_error(ErrorKind::Unexpected, "unexpected " + what + " response: " + std::move(message));
  e.code = http_status;
  return Unexpected(e);
}

// The JSON object of a `kind` answer, or why not.
Expected<json> object_of(int http_status, std::string_view body, std::string_view retry_after_header,
                         int expected_status, const char* kind) {
  if (http_status != expected_status)
    return Unexpected(error_from_response(http_status, body, retry_after_header));
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return unexpected(http_status, kind, "not a JSON object");
  if (str(j, "kind") != kind)
    return unexpected(http_status, kind,
                      "kind is \"" + outside_text(str(j, "kind"), 64) + "\", expected " + std::string(kind));
  return j;
}

std::string dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

rotation::ServingCsr serving_csr_of(const Csr& csr) {
  rotation::ServingCsr s;
  s.name = csr.name;
  s.signer_name = csr.signer_name;
  s.username = csr.username;
  s.groups = csr.groups;
  s.usages = csr.usages;
  s.expiration_seconds = csr.expiration_seconds;
  if (auto parsed = rotation::parse_csr_pem(csr.request_pem)) {
    s.request = std::move(*parsed);
  } else {
    s.request_problem = parsed.error().message;
  }
  return s;
}

Result<Node> node_from_response(int http_status, std::string_view body, std::string_view retry_after_header) {
  auto j = object_of(http_status, body, retry_after_header, 200, "Node");
  if (!j) return Unexpected(j.error());
  Node n;
  const json meta = j->value("metadata", json::object());
  if (!meta.is_object()) return unexpected(http_status, "Node", "metadata is not an object");
  n.name = str(meta, "name");
  n.uid = str(meta, "uid");
  n.resource_version = str(meta, "resourceVersion");
  const json status = j->value("status", json::object());
  if (!status.is_object()) return unexpected(http_status, "Node", "status is not an object");
  if (auto a = status.find("addresses"); a != status.end() && !a->is_null()) {
    if (!a->is_array()) return unexpected(http_status, "Node", "status.addresses is not a list");
    for (const auto& entry : *a) {
      if (!entry.is_object()) return unexpected(http_status, "Node", "an address is not an object");
      // Compared with SANs byte for byte; escaping keeps a hostile value from reaching a log raw.
      n.addresses.push_back(rotation::NodeAddress{outside_text(str(entry, "type"), 64),
                                                  outside_text(str(entry, "address"), 256)});
    }
  }
  return n;
}

Result<ConfigMap> config_map_from_response(int http_status, std::string_view body,
                                           std::string_view retry_after_header) {
  auto j = object_of(http_status, body, retry_after_header, 200, "ConfigMap");
  if (!j) return Unexpected(j.error());
  ConfigMap cm;
  const json meta = j->value("metadata", json::object());
  if (!meta.is_object()) return unexpected(http_status, "ConfigMap", "metadata is not an object");
  cm.namespace_ = outside_text(str(meta, "namespace"), 253);
  cm.name = outside_text(str(meta, "name"), 253);
  cm.resource_version = outside_text(str(meta, "resourceVersion"), 64);
  if (auto d = j->find("data"); d != j->end() && !d->is_null()) {
    if (!d->is_object()) return unexpected(http_status, "ConfigMap", "data is not an object");
    if (d->size() > kMaxConfigMapKeys)
      return unexpected(http_status, "ConfigMap",
                        "data has more than " + std::to_string(kMaxConfigMapKeys) + " keys");
    for (auto it = d->begin(); it != d->end(); ++it) {
      if (!it.value().is_string())
        return unexpected(http_status, "ConfigMap",
                          "data." + outside_text(it.key(), 253) + " is not a string");
      cm.data.emplace(it.key(), it.value().get<std::string>());
    }
  }
  return cm;
}

std::string micro_time(SysTime t) {
  using namespace std::chrono;
  const auto us = floor<microseconds>(t.time_since_epoch()).count();
  const auto secs = floor<seconds>(t);
  std::string s = to_rfc3339(secs);  // "...:SSZ"
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(((us % 1000000) + 1000000) % 1000000));
  s.insert(s.size() - 1, frac);
  return s;
}

std::string lease_body(const Lease& l) {
  ordered_json meta = ordered_json::object();
  meta["name"] = l.name;
  meta["namespace"] = l.namespace_;
  if (!l.resource_version.empty()) meta["resourceVersion"] = l.resource_version;
  ordered_json spec = ordered_json::object();
  spec["holderIdentity"] = l.holder;
  spec["leaseDurationSeconds"] = l.lease_duration_seconds;
  if (l.acquire_time) spec["acquireTime"] = micro_time(*l.acquire_time);
  if (l.renew_time) spec["renewTime"] = micro_time(*l.renew_time);
  spec["leaseTransitions"] = l.transitions;
  ordered_json body = ordered_json::object();
  body["apiVersion"] = "coordination.k8s.io/v1";
  body["kind"] = "Lease";
  body["metadata"] = meta;
  body["spec"] = spec;
  return dump(body);
}

Result<Lease> lease_from_response(int http_status, std::string_view body, std::string_view retry_after_header,
                                  int expected_status) {
  auto j = object_of(http_status, body, retry_after_header, expected_status, "Lease");
  if (!j) return Unexpected(j.error());
  Lease l;
  const json meta = j->value("metadata", json::object());
  const json spec = j->value("spec", json::object());
  if (!meta.is_object() || !spec.is_object())
    return unexpected(http_status, "Lease", "metadata or spec is not an object");
  l.name = str(meta, "name");
  l.namespace_ = str(meta, "namespace");
  l.resource_version = str(meta, "resourceVersion");
  l.holder = outside_text(str(spec, "holderIdentity"), 256);
  const auto integer = [&](const char* key) -> std::optional<std::int64_t> {
    auto it = spec.find(key);
    if (it == spec.end() || it->is_null()) return std::int64_t{0};
    if (!it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
  };
  const auto duration = integer("leaseDurationSeconds");
  const auto transitions = integer("leaseTransitions");
  if (!duration || !transitions || *duration < 0 || *transitions < 0)
    return unexpected(http_status, "Lease", "leaseDurationSeconds or leaseTransitions is not a count");
  l.lease_duration_seconds = *duration;
  l.transitions = *transitions;
  for (auto [key, field] :
       {std::pair{"acquireTime", &l.acquire_time}, std::pair{"renewTime", &l.renew_time}}) {
    const std::string text = str(spec, key);
    if (text.empty()) continue;
    *field = parse_rfc3339(text);
    if (!*field)
      return unexpected(http_status, "Lease", std::string(key) + " is not a time: " + outside_text(text, 64));
  }
  return l;
}

std::string event_name(const std::string& object, SysTime t) {
  char hex[24];
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(ns));
  return object + "." + hex;
}

std::string event_create_body(const EventRecord& e) {
  ordered_json involved = ordered_json::object();
  involved["kind"] = e.involved.kind;
  involved["name"] = e.involved.name;
  if (!e.involved.uid.empty()) involved["uid"] = e.involved.uid;
  if (!e.involved.api_version.empty()) involved["apiVersion"] = e.involved.api_version;
  if (!e.involved.resource_version.empty()) involved["resourceVersion"] = e.involved.resource_version;
  ordered_json body = ordered_json::object();
  body["apiVersion"] = "v1";
  body["kind"] = "Event";
  body["metadata"] = ordered_json{{"name", e.name}, {"namespace", e.namespace_}};
  body["involvedObject"] = involved;
  body["reason"] = e.reason;
  body["message"] = e.message;
  body["source"] = ordered_json{{"component", e.component}, {"host", e.host}};
  body["firstTimestamp"] = to_rfc3339(e.first);
  body["lastTimestamp"] = to_rfc3339(e.last);
  body["count"] = e.count;
  body["type"] = e.type;
  body["eventTime"] = nullptr;
  body["reportingComponent"] = e.component;
  body["reportingInstance"] = e.host;
  return dump(body);
}

std::string event_patch_body(const EventRecord& e) {
  ordered_json body = ordered_json::object();
  body["count"] = e.count;
  body["lastTimestamp"] = to_rfc3339(e.last);
  body["message"] = e.message;
  return dump(body);
}

Result<void> event_from_response(int http_status, std::string_view body, std::string_view retry_after_header,
                                 int expected_status) {
  auto j = object_of(http_status, body, retry_after_header, expected_status, "Event");
  if (!j) return Unexpected(j.error());
  return {};
}

}  // namespace kcd::api

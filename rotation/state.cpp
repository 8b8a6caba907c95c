#include "rotation/state.hpp"

#include "base/rfc3339.hpp"

#include <nlohmann/json.hpp>


namespace kcd::rotation {

namespace {

using nlohmann::json;

void put_time(json& j, const char* key, const std::optional<SysTime>& t) {
  if (t) j[key] = to_rfc3339(*t, true);
}

std::optional<SysTime> get_time(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return parse_rfc3339(it->get<std::string>());
}

json cert_to_json(const CertState& c) {
  json j = json::object();
  if (c.pending) {
    json p = {{"name", c.pending->name}, {"keySha256", c.pending->key_sha256}, {"filed", c.pending->filed}};
    if (c.pending->filed) p["filedAt"] = to_rfc3339(c.pending->filed_at, true);
    j["pendingCSR"] = p;
  }
  if (c.deadline) {
    j["rotationDeadline"] = to_rfc3339(*c.deadline, true);
    j["rotationDeadlineCertSha256"] = c.deadline_cert_sha256;
  }
  put_time(j, "lastCSRCreated", c.last_csr_created);
  put_time(j, "nextCSRNotBefore", c.next_csr_not_before);
  put_time(j, "lastSuccess", c.last_success);
  if (!c.last_error.empty()) j["lastError"] = c.last_error;
  put_time(j, "lastErrorAt", c.last_error_at);
  j["csrsCreated"] = c.csrs_created;
  return j;
}

CertState cert_from_json(const json& j) {
  CertState c;
  if (!j.is_object()) return c;
  if (auto it = j.find("pendingCSR"); it != j.end() && it->is_object()) {
    PendingCsr p;
    p.name = it->value("name", "");
    p.key_sha256 = it->value("keySha256", "");
    p.filed = it->value("filed", false);
    if (auto t = get_time(*it, "filedAt")) p.filed_at = *t;
    if (!p.name.empty()) c.pending = p;
  }
  c.deadline = get_time(j, "rotationDeadline");
  c.deadline_cert_sha256 = j.value("rotationDeadlineCertSha256", "");
  c.last_csr_created = get_time(j, "lastCSRCreated");
  c.next_csr_not_before = get_time(j, "nextCSRNotBefore");
  c.last_success = get_time(j, "lastSuccess");
  c.last_error = j.value("lastError", "");
  c.last_error_at = get_time(j, "lastErrorAt");
  c.csrs_created = j.value("csrsCreated", 0L);
  return c;
}

}  // namespace

std::string serialize_state(const State& state) {
  json j = {{"apiVersion", "kubelet-certd.io/v1alpha1"},
            {"kind", "State"},
            {"client", cert_to_json(state.client)},
            {"serving", cert_to_json(state.serving)}};
  return j.dump(2) + "\n";
}

StateLoad parse_state(std::string_view text, const std::string& source) {
  StateLoad out;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    out.warning = source + ": not valid JSON; starting from an empty state";
    return out;
  }
  if (auto it = j.find("client"); it != j.end()) out.state.client = cert_from_json(*it);
  if (auto it = j.find("serving"); it != j.end()) out.state.serving = cert_from_json(*it);
  return out;
}

}  // namespace kcd::rotation

#include "rotation/state.hpp"

#include "base/rfc3339.hpp"

#include <nlohmann/json.hpp>

namespace kcd::rotation {

namespace {

using nlohmann::json;

void put_time(json& j, const char* key, const std::optional<SysTime>& t) {
  if (t) j[key] = to_rfc3339(*t, true);
}

// A field that is present must have its type and form; the first one that does not is named.
struct Invalid {
  std::string what;
};

const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string get_string(const json& obj, const char* key, const std::string& at, std::size_t max = 4096) {
  const json* v = field(obj, key);
  if (v == nullptr) return {};
  if (!v->is_string()) throw Invalid{at + key + ": expected a string"};
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max) throw Invalid{at + key + ": longer than " + std::to_string(max) + " bytes"};
  return s;
}

std::optional<SysTime> get_time(const json& obj, const char* key, const std::string& at) {
  if (field(obj, key) == nullptr) return std::nullopt;
  auto t = parse_rfc3339(get_string(obj, key, at, 64));
  if (!t) throw Invalid{at + key + ": not an RFC 3339 time"};
  return t;
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

CertState cert_from_json(const json& j, const std::string& at) {
  CertState c;
  if (!j.is_object()) throw Invalid{at + ": expected an object"};
  if (const json* p = field(j, "pendingCSR")) {
    const std::string pat = at + ".pendingCSR.";
    if (!p->is_object()) throw Invalid{at + ".pendingCSR: expected an object"};
    PendingCsr pending;
    pending.name = get_string(*p, "name", pat, 253);
    pending.key_sha256 = get_string(*p, "keySha256", pat, 64);
    if (const json* f = field(*p, "filed")) {
      if (!f->is_boolean()) throw Invalid{pat + "filed: expected true or false"};
      pending.filed = f->get<bool>();
    }
    if (auto t = get_time(*p, "filedAt", pat)) pending.filed_at = *t;
    if (!pending.name.empty()) c.pending = pending;
  }
  const std::string fat = at + ".";
  c.deadline = get_time(j, "rotationDeadline", fat);
  c.deadline_cert_sha256 = get_string(j, "rotationDeadlineCertSha256", fat, 64);
  c.last_csr_created = get_time(j, "lastCSRCreated", fat);
  c.next_csr_not_before = get_time(j, "nextCSRNotBefore", fat);
  c.last_success = get_time(j, "lastSuccess", fat);
  c.last_error = get_string(j, "lastError", fat);
  c.last_error_at = get_time(j, "lastErrorAt", fat);
  if (const json* n = field(j, "csrsCreated")) {
    if (!n->is_number_integer() || n->get<long long>() < 0)
      throw Invalid{fat + "csrsCreated: expected a whole number from 0"};
    c.csrs_created = n->get<long>();
  }
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
    out.corrupt = true;
    return out;
  }
  try {
    State st;
    if (auto it = j.find("client"); it != j.end()) st.client = cert_from_json(*it, "client");
    if (auto it = j.find("serving"); it != j.end()) st.serving = cert_from_json(*it, "serving");
    out.state = st;
  } catch (const Invalid& e) {
    out.warning = source + ": " + e.what + "; starting from an empty state";
    out.corrupt = true;
  }
  return out;
}

}  // namespace kcd::rotation

#include "rotation/state.hpp"

#include "base/json_reader.hpp"
#include "base/rfc3339.hpp"

#include <nlohmann/json.hpp>

namespace kcd::rotation {

namespace {

using nlohmann::json;

void put_time(json& j, const char* key, const std::optional<SysTime>& t) {
  if (t) j[key] = to_rfc3339(*t, true);
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

CertState cert_from_json(JsonReader& r, const json& j, const std::string& at) {
  CertState c;
  if (!r.object(j, at)) return c;
  if (const json* p = JsonReader::find(j, "pendingCSR")) {
    const std::string pat = at + ".pendingCSR.";
    if (r.object(*p, at + ".pendingCSR")) {
      PendingCsr pending;
      if (const json* v = JsonReader::find(*p, "name")) pending.name = r.string(*v, pat + "name", 253);
      if (const json* v = JsonReader::find(*p, "keySha256"))
        pending.key_sha256 = r.string(*v, pat + "keySha256", 64);
      if (const json* v = JsonReader::find(*p, "filed")) pending.filed = r.boolean(*v, pat + "filed");
      if (const json* v = JsonReader::find(*p, "filedAt"))
        pending.filed_at = r.time(*v, pat + "filedAt").value_or(SysTime{});
      if (!pending.name.empty()) c.pending = pending;
    }
  }
  const std::string fat = at + ".";
  auto time = [&](const char* key) -> std::optional<SysTime> {
    const json* v = JsonReader::find(j, key);
    return v ? r.time(*v, fat + key) : std::nullopt;
  };
  auto string = [&](const char* key, std::size_t max) {
    const json* v = JsonReader::find(j, key);
    return v ? r.string(*v, fat + key, max) : std::string();
  };
  c.deadline = time("rotationDeadline");
  c.deadline_cert_sha256 = string("rotationDeadlineCertSha256", 64);
  c.last_csr_created = time("lastCSRCreated");
  c.next_csr_not_before = time("nextCSRNotBefore");
  c.last_success = time("lastSuccess");
  c.last_error = string("lastError", 4096);
  c.last_error_at = time("lastErrorAt");
  if (const json* n = JsonReader::find(j, "csrsCreated"))
    c.csrs_created = static_cast<long>(r.whole(*n, fat + "csrsCreated", 1'000'000'000'000LL));
  return c;
}

}  // namespace

std::string serialize_state(const State& state) {
  json j = {{"apiVersion", "kubelet-certd.io/v1alpha1"},
            {"kind", "State"},
            {"client", cert_to_json(state.client)},
            {"serving", cert_to_json(state.serving)}};
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Expected<State> parse_state(std::string_view text, const std::string& source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Unexpected(make_error(ErrorKind::Corrupt, "not valid JSON", Location{source, 0, 0, {}}));
  }
  JsonReader r;
  State st;
  if (auto it = j.find("client"); it != j.end()) st.client = cert_from_json(r, *it, "client");
  if (auto it = j.find("serving"); it != j.end()) st.serving = cert_from_json(r, *it, "serving");
  if (r.problem())
    return Unexpected(make_error(ErrorKind::Corrupt, *r.problem(), Location{source, 0, 0, {}}));
  return st;
}

}  // namespace kcd::rotation

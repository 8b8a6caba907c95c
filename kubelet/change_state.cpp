#include "kubelet/change_state.hpp"

#include <nlohmann/json.hpp>

namespace kcd::kubelet {

namespace {

using nlohmann::json;

struct Invalid {
  std::string what;
};

const json& field(const json& obj, const char* key, const std::string& at) {
  auto it = obj.find(key);
  if (it == obj.end()) throw Invalid{at + key + ": missing"};
  return *it;
}

std::string string_of(const json& j, const std::string& at, std::size_t max = 4096) {
  if (!j.is_string()) throw Invalid{at + ": expected a string"};
  const auto& s = j.get_ref<const std::string&>();
  if (s.size() > max) throw Invalid{at + ": longer than " + std::to_string(max) + " bytes"};
  return s;
}

SysTime time_of(const json& j, const std::string& at) {
  auto t = parse_rfc3339(string_of(j, at, 64));
  if (!t) throw Invalid{at + ": not an RFC 3339 time"};
  return *t;
}

void expect_object(const json& j, const std::string& at, std::initializer_list<const char*> allowed) {
  if (!j.is_object()) throw Invalid{(at.empty() ? "the document" : at) + ": expected an object"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* k : allowed) known = known || it.key() == k;
    if (!known) throw Invalid{at + (at.empty() ? "" : ".") + it.key() + ": unknown field"};
  }
}

}  // namespace

std::string serialize_change_state(const ChangeState& s) {
  json j = {{"apiVersion", "kubelet-certd.io/v1alpha1"},
            {"kind", "KubeletChangeState"},
            {"rollbacks", s.rollbacks}};
  if (!s.kubelet.empty()) j["kubelet"] = s.kubelet;
  if (s.pending) {
    j["pendingChange"] = {{"config", s.pending->config},
                          {"backup", s.pending->backup},
                          {"patchedSha256", s.pending->patched_sha256},
                          {"keys", s.pending->keys},
                          {"fingerprint", s.pending->fingerprint},
                          {"since", to_rfc3339(s.pending->since, true)}};
  }
  if (s.refused) {
    j["refused"] = {{"fingerprint", s.refused->fingerprint},
                    {"keys", s.refused->keys},
                    {"at", to_rfc3339(s.refused->at, true)}};
  }
  return j.dump(2) + "\n";
}

ChangeStateParse parse_change_state(std::string_view text) {
  ChangeStateParse out;
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    out.error = "not valid JSON";
    return out;
  }
  try {
    expect_object(j, "", {"apiVersion", "kind", "rollbacks", "kubelet", "pendingChange", "refused"});
    if (string_of(field(j, "apiVersion", ""), "apiVersion") != "kubelet-certd.io/v1alpha1" ||
        string_of(field(j, "kind", ""), "kind") != "KubeletChangeState") {
      throw Invalid{"apiVersion/kind: expected kubelet-certd.io/v1alpha1 KubeletChangeState"};
    }
    ChangeState s;
    const json& rb = field(j, "rollbacks", "");
    if (!rb.is_number_integer() || rb.get<long long>() < 0 || rb.get<long long>() > 1'000'000'000) {
      throw Invalid{"rollbacks: expected a whole number from 0"};
    }
    s.rollbacks = rb.get<long>();
    if (j.contains("kubelet")) s.kubelet = string_of(j["kubelet"], "kubelet", 512);
    if (j.contains("pendingChange")) {
      const json& p = j["pendingChange"];
      expect_object(p, "pendingChange",
                    {"config", "backup", "patchedSha256", "keys", "fingerprint", "since"});
      PendingChange pc;
      pc.config = string_of(field(p, "config", "pendingChange."), "pendingChange.config");
      pc.backup = string_of(field(p, "backup", "pendingChange."), "pendingChange.backup");
      pc.patched_sha256 =
          string_of(field(p, "patchedSha256", "pendingChange."), "pendingChange.patchedSha256", 64);
      if (pc.config.empty() || pc.config.front() != '/')
        throw Invalid{"pendingChange.config: expected an absolute path"};
      if (!pc.backup.empty() && pc.backup.front() != '/')
        throw Invalid{"pendingChange.backup: expected an absolute path"};
      if (pc.patched_sha256.size() != 64 ||
          pc.patched_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
        throw Invalid{"pendingChange.patchedSha256: expected 64 lowercase hex digits"};
      }
      const json& keys = field(p, "keys", "pendingChange.");
      if (!keys.is_array() || keys.size() > 64)
        throw Invalid{"pendingChange.keys: expected a list of at most 64 keys"};
      for (const auto& k : keys) pc.keys.push_back(string_of(k, "pendingChange.keys[]", 256));
      pc.fingerprint = string_of(field(p, "fingerprint", "pendingChange."), "pendingChange.fingerprint");
      pc.since = time_of(field(p, "since", "pendingChange."), "pendingChange.since");
      s.pending = pc;
    }
    if (j.contains("refused")) {
      const json& r = j["refused"];
      expect_object(r, "refused", {"fingerprint", "keys", "at"});
      RefusedChange rc;
      rc.fingerprint = string_of(field(r, "fingerprint", "refused."), "refused.fingerprint");
      const json& keys = field(r, "keys", "refused.");
      if (!keys.is_object() || keys.size() > 64)
        throw Invalid{"refused.keys: expected an object of at most 64 keys"};
      for (auto it = keys.begin(); it != keys.end(); ++it) {
        if (it.key().size() > 256) throw Invalid{"refused.keys: a key is longer than 256 bytes"};
        rc.keys[it.key()] = string_of(it.value(), "refused.keys." + it.key());
      }
      rc.at = time_of(field(r, "at", "refused."), "refused.at");
      s.refused = rc;
    }
    out.state = s;
  } catch (const Invalid& e) {
    out.error = e.what;
  }
  return out;
}

}  // namespace kcd::kubelet

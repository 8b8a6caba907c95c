#include "kubelet/change_state.hpp"

#include "base/json_reader.hpp"

#include <nlohmann/json.hpp>

namespace kcd::kubelet {

namespace {

using nlohmann::json;

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
  if (s.client_ca) {
    j["clientCA"] = {{"path", s.client_ca->path},
                     {"sha256", s.client_ca->sha256},
                     {"previousSha256", s.client_ca->previous_sha256},
                     {"at", to_rfc3339(s.client_ca->at, true)}};
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Expected<ChangeState> parse_change_state(std::string_view text, const std::string& source) {
  auto corrupt = [&](std::string why) {
    return Unexpected(make_error(ErrorKind::Corrupt, std::move(why), Location{source, 0, 0, {}}));
  };
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return corrupt("not valid JSON");
  JsonReader r;
  if (!r.object(j, "",
                {"apiVersion", "kind", "rollbacks", "kubelet", "pendingChange", "refused", "clientCA"}))
    return corrupt(*r.problem());
  const std::string api_version = r.string(r.require(j, "apiVersion", ""), "apiVersion");
  const std::string kind = r.string(r.require(j, "kind", ""), "kind");
  if (r.problem()) return corrupt(*r.problem());
  if (api_version != "kubelet-certd.io/v1alpha1" || kind != "KubeletChangeState")
    return corrupt("apiVersion/kind: expected kubelet-certd.io/v1alpha1 KubeletChangeState");
  ChangeState s;
  s.rollbacks = static_cast<long>(r.whole(r.require(j, "rollbacks", ""), "rollbacks", 1'000'000'000));
  if (const json* k = JsonReader::find(j, "kubelet")) s.kubelet = r.string(*k, "kubelet", 512);
  if (const json* p = JsonReader::find(j, "pendingChange");
      p != nullptr &&
      r.object(*p, "pendingChange", {"config", "backup", "patchedSha256", "keys", "fingerprint", "since"})) {
    const std::string at = "pendingChange.";
    PendingChange pc;
    pc.config = r.string(r.require(*p, "config", at), at + "config");
    pc.backup = r.string(r.require(*p, "backup", at), at + "backup");
    pc.patched_sha256 = r.string(r.require(*p, "patchedSha256", at), at + "patchedSha256", 64);
    if (r.problem()) return corrupt(*r.problem());
    if (pc.config.empty() || pc.config.front() != '/')
      return corrupt("pendingChange.config: expected an absolute path");
    if (!pc.backup.empty() && pc.backup.front() != '/')
      return corrupt("pendingChange.backup: expected an absolute path");
    if (pc.patched_sha256.size() != 64 ||
        pc.patched_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return corrupt("pendingChange.patchedSha256: expected 64 lowercase hex digits");
    }
    const json& keys = r.require(*p, "keys", at);
    if (!keys.is_array() || keys.size() > 64)
      return corrupt("pendingChange.keys: expected a list of at most 64 keys");
    for (const auto& k : keys) pc.keys.push_back(r.string(k, "pendingChange.keys[]", 256));
    pc.fingerprint = r.string(r.require(*p, "fingerprint", at), at + "fingerprint");
    pc.since = r.time(r.require(*p, "since", at), at + "since").value_or(SysTime{});
    s.pending = pc;
  }
  if (const json* rj = JsonReader::find(j, "refused");
      rj != nullptr && r.object(*rj, "refused", {"fingerprint", "keys", "at"})) {
    RefusedChange rc;
    rc.fingerprint = r.string(r.require(*rj, "fingerprint", "refused."), "refused.fingerprint");
    const json& keys = r.require(*rj, "keys", "refused.");
    if (!keys.is_object() || keys.size() > 64)
      return corrupt("refused.keys: expected an object of at most 64 keys");
    for (auto it = keys.begin(); it != keys.end(); ++it) {
      if (it.key().size() > 256) return corrupt("refused.keys: a key is longer than 256 bytes");
      rc.keys[it.key()] = r.string(it.value(), "refused.keys." + it.key());
    }
    rc.at = r.time(r.require(*rj, "at", "refused."), "refused.at").value_or(SysTime{});
    s.refused = rc;
  }
  if (const json* cj = JsonReader::find(j, "clientCA");
      cj != nullptr && r.object(*cj, "clientCA", {"path", "sha256", "previousSha256", "at"})) {
    WrittenClientCa ca;
    ca.path = r.string(r.require(*cj, "path", "clientCA."), "clientCA.path");
    ca.sha256 = r.string(r.require(*cj, "sha256", "clientCA."), "clientCA.sha256", 64);
    ca.previous_sha256 =
        r.string(r.require(*cj, "previousSha256", "clientCA."), "clientCA.previousSha256", 64);
    ca.at = r.time(r.require(*cj, "at", "clientCA."), "clientCA.at").value_or(SysTime{});
    if (r.problem()) return corrupt(*r.problem());
    if (ca.path.empty() || ca.path.front() != '/') return corrupt("clientCA.path: expected an absolute path");
    if (ca.sha256.size() != 64 || ca.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
      return corrupt("clientCA.sha256: expected 64 lowercase hex digits");
    if (!ca.previous_sha256.empty() &&
        (ca.previous_sha256.size() != 64 ||
         ca.previous_sha256.find_first_not_of("0123456789abcdef") != std::string::npos))
      return corrupt("clientCA.previousSha256: expected \"\" or 64 lowercase hex digits");
    s.client_ca = ca;
  }
  if (r.problem()) return corrupt(*r.problem());
  return s;
}

}  // namespace kcd::kubelet

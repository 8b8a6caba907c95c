#include "daemon/control_protocol.hpp"

#include "base/rfc3339.hpp"

#include <algorithm>
#include <array>
#include <climits>

namespace kcd::daemon {

using nlohmann::json;
using rotation::CertKind;
using rotation::Condition;
using rotation::Phase;

namespace {

constexpr std::array kConditions = {Condition::Starting,       Condition::Valid,  Condition::AwaitingApproval,
                                    Condition::AwaitingSigner, Condition::Denied, Condition::Error};
constexpr std::array kPhases = {Phase::Inspecting, Phase::Idle,       Phase::Generating,
                                Phase::Submitting, Phase::Looking,    Phase::Awaiting,
                                Phase::Installing, Phase::Discarding, Phase::Backoff};

template <class T, std::size_t N>
std::string words(const std::array<T, N>& all) {
  std::string out;
  for (T v : all) out += (out.empty() ? "" : ", ") + std::string(to_string(v));
  return out;
}

// Reads a JSON document field by field; the first problem is kept with the field's path and
// every read after it returns a default that is never used (parse_* return the problem instead).
class Reader {
 public:
  const std::optional<std::pair<std::string, std::string>>& problem() const { return problem_; }
  void fail(const std::string& path, std::string message) {
    if (!problem_) problem_ = {path, std::move(message)};
  }

  bool object(const json& j, const std::string& path) {
    if (j.is_object()) return true;
    fail(path, std::string("expected an object, got ") + j.type_name());
    return false;
  }
  // The member `key` of object `o`, or null (and a problem) when absent.
  const json& member(const json& o, const std::string& path, const char* key) {
    static const json kNull;
    if (!o.is_object()) return kNull;
    const auto it = o.find(key);
    if (it == o.end()) {
      fail(join(path, key), "missing");
      return kNull;
    }
    return *it;
  }
  std::string string(const json& o, const std::string& path, const char* key) {
    const json& v = member(o, path, key);
    if (v.is_string()) return v.get<std::string>();
    if (!problem_) fail(join(path, key), std::string("expected a string, got ") + v.type_name());
    return {};
  }
  std::optional<std::string> optional_string(const json& o, const std::string& path, const char* key) {
    if (!o.is_object() || !o.contains(key)) return std::nullopt;
    return string(o, path, key);
  }
  long long integer(const json& o, const std::string& path, const char* key, long long min, long long max) {
    const json& v = member(o, path, key);
    if (!v.is_number_integer()) {
      if (!problem_) fail(join(path, key), std::string("expected an integer, got ") + v.type_name());
      return min;
    }
    const long long n =
        v.is_number_unsigned() && v.get<unsigned long long>() > LLONG_MAX ? LLONG_MAX : v.get<long long>();
    if (n < min || n > max) {
      fail(join(path, key),
           std::to_string(n) + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
      return min;
    }
    return n;
  }
  const json& array(const json& o, const std::string& path, const char* key) {
    const json& v = member(o, path, key);
    if (!v.is_array() && !problem_)
      fail(join(path, key), std::string("expected an array, got ") + v.type_name());
    return v;
  }
  std::vector<std::string> strings(const json& o, const std::string& path, const char* key) {
    std::vector<std::string> out;
    const json& a = array(o, path, key);
    if (!a.is_array()) return out;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string()) {
        fail(index(join(path, key), i), std::string("expected a string, got ") + a[i].type_name());
        return out;
      }
      out.push_back(a[i].get<std::string>());
    }
    return out;
  }

  static std::string join(const std::string& path, const char* key) {
    return path.empty() ? std::string(key) : path + "." + key;
  }
  static std::string index(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

 private:
  std::optional<std::pair<std::string, std::string>> problem_;
};

// The line as JSON: an object, or a problem at "" (the whole line).
json parse_object(std::string_view line, Reader& r) {
  if (line.empty()) {
    r.fail("", "empty reply (the daemon closed the connection without answering)");
    return json::object();
  }
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded()) {
    r.fail("", "not JSON: " + std::string(line.substr(0, 80)));
    return json::object();
  }
  if (!j.is_object()) r.fail("", std::string("expected a JSON object, got ") + j.type_name());
  return j;
}

CertificateReport read_certificate(const json& j, const std::string& path, Reader& r) {
  CertificateReport c;
  if (!r.object(j, path)) return c;
  const std::string name = r.string(j, path, "name");
  if (auto k = parse_cert_kind(name)) {
    c.kind = *k;
  } else if (!r.problem()) {
    r.fail(Reader::join(path, "name"), "\"" + name + "\" is not a certificate (client, serving)");
  }
  const std::string phase = r.string(j, path, "phase");
  if (auto p = parse_phase(phase)) {
    c.phase = *p;
  } else if (!r.problem()) {
    r.fail(Reader::join(path, "phase"), "\"" + phase + "\" is not a phase (" + words(kPhases) + ")");
  }
  const std::string condition = r.string(j, path, "condition");
  if (auto cond = parse_condition(condition)) {
    c.condition = *cond;
  } else if (!r.problem()) {
    r.fail(Reader::join(path, "condition"),
           "\"" + condition + "\" is not a condition (" + words(kConditions) + ")");
  }
  c.reason = r.string(j, path, "reason");
  c.installs = static_cast<int>(r.integer(j, path, "installs", 0, INT_MAX));
  c.last_error = r.string(j, path, "lastError");
  c.sha256 = r.optional_string(j, path, "sha256");
  c.pending_csr = r.optional_string(j, path, "pendingCSR");
  if (auto d = r.optional_string(j, path, "rotationDeadline")) {
    c.rotation_deadline = parse_rfc3339(*d);
    if (!c.rotation_deadline && !r.problem())
      r.fail(Reader::join(path, "rotationDeadline"), "\"" + *d + "\" is not an RFC 3339 time");
  }
  return c;
}

KubeletReport read_kubelet(const json& j, const std::string& path, Reader& r) {
  KubeletReport k;
  if (!r.object(j, path)) return k;
  k.kubelet = r.string(j, path, "kubelet");
  k.rollbacks = static_cast<long>(r.integer(j, path, "rollbacks", 0, LONG_MAX));
  const json& held = r.array(j, path, "heldBack");
  if (held.is_array()) {
    for (std::size_t i = 0; i < held.size(); ++i) {
      const std::string at = Reader::index(Reader::join(path, "heldBack"), i);
      if (!r.object(held[i], at)) break;
      k.held_back.push_back(
          {r.string(held[i], at, "key"), r.string(held[i], at, "cis"), r.string(held[i], at, "reason")});
    }
  }
  k.refused_keys = r.strings(j, path, "refusedKeys");
  return k;
}

StatusReply read_status(const json& j, const std::string& path, Reader& r) {
  StatusReply s;
  if (!r.object(j, path)) return s;
  const json& certs = r.array(j, path, "certs");
  if (certs.is_array()) {
    for (std::size_t i = 0; i < certs.size(); ++i) {
      const std::string at = Reader::index(Reader::join(path, "certs"), i);
      CertificateReport c = read_certificate(certs[i], at, r);
      if (r.problem()) break;
      const bool twice = std::any_of(s.certs.begin(), s.certs.end(),
                                     [&](const CertificateReport& x) { return x.kind == c.kind; });
      if (twice) {
        r.fail(Reader::join(at, "name"), std::string(rotation::to_string(c.kind)) + " is reported twice");
        break;
      }
      s.certs.push_back(std::move(c));
    }
  }
  s.pid = static_cast<long>(r.integer(j, path, "pid", 1, INT_MAX));
  s.kubelet = read_kubelet(r.member(j, path, "kubelet"), Reader::join(path, "kubelet"), r);
  return s;
}

// An {"error": "..."} reply: the daemon's own message (a problem when it is not a string).
std::optional<Error> refusal(const json& j, Reader& r) {
  if (!j.is_object() || !j.contains("error")) return std::nullopt;
  const std::string message = r.string(j, "", "error");
  if (r.problem()) return std::nullopt;
  return make_error(ErrorKind::Refused, message);
}

Error malformed(std::string_view source, const std::pair<std::string, std::string>& problem) {
  return make_error(ErrorKind::Corrupt, "unexpected reply from the daemon: " + problem.second,
                    Location{std::string(source), 0, 0, problem.first});
}

}  // namespace

std::string_view to_string(ControlCommand c) {
  return c == ControlCommand::Renew ? "renew" : "status";
}

std::string_view to_string(Condition c) {
  switch (c) {
    case Condition::Starting:
      return "starting";
    case Condition::Valid:
      return "valid";
    case Condition::AwaitingApproval:
      return "awaiting approval";
    case Condition::AwaitingSigner:
      return "awaiting signer";
    case Condition::Denied:
      return "denied";
    case Condition::Error:
      return "error";
  }
  return "?";
}

std::optional<Condition> parse_condition(std::string_view word) {
  for (Condition c : kConditions) {
    if (to_string(c) == word) return c;
  }
  return std::nullopt;
}

std::optional<Phase> parse_phase(std::string_view word) {
  for (Phase p : kPhases) {
    if (rotation::to_string(p) == word) return p;
  }
  return std::nullopt;
}

std::optional<CertKind> parse_cert_kind(std::string_view word) {
  for (CertKind k : {CertKind::Client, CertKind::Serving}) {
    if (rotation::to_string(k) == word) return k;
  }
  return std::nullopt;
}

CertificateReport report_of(const rotation::Lifecycle& m) {
  const auto& st = m.persistent();
  CertificateReport r;
  r.kind = m.kind();
  r.phase = m.phase();
  r.condition = m.condition();
  r.reason = m.reason();
  r.installs = m.installs();
  r.last_error = st.last_error;
  if (m.current()) r.sha256 = m.current()->sha256_fingerprint;
  if (st.pending) r.pending_csr = st.pending->name;
  r.rotation_deadline = st.deadline;
  return r;
}

json to_json(const ControlRequest& r) {
  json j = {{"command", std::string(to_string(r.command))}};
  if (r.command == ControlCommand::Renew) {
    json certs = json::array();
    for (CertKind k : r.certs) certs.push_back(std::string(rotation::to_string(k)));
    j["certs"] = certs;
  }
  return j;
}

json to_json(const CertificateReport& r) {
  json j = {{"name", std::string(rotation::to_string(r.kind))},
            {"phase", std::string(rotation::to_string(r.phase))},
            {"condition", std::string(to_string(r.condition))},
            {"reason", r.reason},
            {"installs", r.installs},
            {"lastError", r.last_error}};
  if (r.sha256) j["sha256"] = *r.sha256;
  if (r.pending_csr) j["pendingCSR"] = *r.pending_csr;
  if (r.rotation_deadline) j["rotationDeadline"] = to_rfc3339(*r.rotation_deadline);
  return j;
}

json to_json(const StatusReply& r) {
  json certs = json::array();
  for (const auto& c : r.certs) certs.push_back(to_json(c));
  json held = json::array();
  for (const auto& h : r.kubelet.held_back)
    held.push_back({{"key", h.key}, {"cis", h.cis}, {"reason", h.reason}});
  return {{"certs", certs},
          {"pid", r.pid},
          {"kubelet",
           {{"kubelet", r.kubelet.kubelet},
            {"rollbacks", r.kubelet.rollbacks},
            {"heldBack", held},
            {"refusedKeys", r.kubelet.refused_keys}}}};
}

json to_json(const ControlReply& r) {
  if (const auto* s = std::get_if<StatusReply>(&r)) return to_json(*s);
  if (const auto* n = std::get_if<RenewReply>(&r)) return {{"ok", true}, {"before", to_json(n->before)}};
  return {{"error", std::get<ErrorReply>(r).message}};
}

std::string to_line(const ControlRequest& r) {
  return to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_line(const ControlReply& r) {
  return to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Expected<ControlRequest> parse_request(std::string_view line) {
  const json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Unexpected(make_error(ErrorKind::BadRequest, "request is not a JSON object"));
  const auto command = j.find("command");
  if (command == j.end() || !command->is_string())
    return Unexpected(make_error(ErrorKind::BadRequest, "request has no command (status or renew)"));
  const std::string name = command->get<std::string>();
  ControlRequest request;
  if (name == "status") return request;
  if (name != "renew")
    return Unexpected(make_error(ErrorKind::BadRequest, "unknown command \"" + name + "\""));
  request.command = ControlCommand::Renew;
  const auto certs = j.find("certs");
  if (certs == j.end() || !certs->is_array() || certs->empty())
    return Unexpected(make_error(ErrorKind::BadRequest, "renew: certs must list client and/or serving"));
  for (const auto& c : *certs) {
    const std::string cert = c.is_string() ? c.get<std::string>()
                                           : c.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const auto kind = parse_cert_kind(cert);
    if (!kind) {
      return Unexpected(make_error(ErrorKind::BadRequest,
                                   "unknown certificate \"" + cert + "\"; use client, serving or all"));
    }
    if (std::find(request.certs.begin(), request.certs.end(), *kind) == request.certs.end())
      request.certs.push_back(*kind);
  }
  return request;
}

namespace {
// A reply's object, or the daemon's refusal ({"error": ...}) as the error; a malformed line leaves
// its problem in `r`.
Expected<json> reply_object(std::string_view line, Reader& r) {
  json j = parse_object(line, r);
  if (!r.problem()) {
    if (auto e = refusal(j, r)) return Unexpected(*e);
  }
  return j;
}
}  // namespace

Expected<StatusReply> parse_status_reply(std::string_view line, std::string_view source) {
  Reader r;
  auto object = reply_object(line, r);
  if (!object) return Unexpected(object.error());
  const json& j = *object;
  StatusReply s = read_status(j, "", r);
  if (r.problem()) return Unexpected(malformed(source, *r.problem()));
  return s;
}

Expected<RenewReply> parse_renew_reply(std::string_view line, std::string_view source) {
  Reader r;
  auto object = reply_object(line, r);
  if (!object) return Unexpected(object.error());
  const json& j = *object;
  const json& ok = r.member(j, "", "ok");
  if (!r.problem() && ok != json(true))
    r.fail("ok", "expected true, got " + ok.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  RenewReply reply;
  reply.before = read_status(r.member(j, "", "before"), "before", r);
  if (r.problem()) return Unexpected(malformed(source, *r.problem()));
  return reply;
}

}  // namespace kcd::daemon

#include "daemon/api/types.hpp"

#include "base/base64.hpp"
#include "base/outside_text.hpp"

#include <charconv>

namespace kcd::api {

using nlohmann::json;
using nlohmann::ordered_json;

std::string string_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

namespace {

std::string str(const json& j, const char* key) {
  return string_field(j, key);
}

bool has_condition(const Csr& c, std::string_view type) {
  for (const auto& cond : c.conditions) {
    if (cond.type == type && (cond.status.empty() || cond.status == "True")) return true;
  }
  return false;
}

ErrorKind kind_for(int code, std::string_view reason) {
  switch (code) {
    case 400:
      return ErrorKind::BadRequest;
    case 401:
      return ErrorKind::Unauthorized;
    case 403:
      return ErrorKind::Forbidden;
    case 404:
      return ErrorKind::NotFound;
    case 409:
      return reason == "AlreadyExists" ? ErrorKind::AlreadyExists : ErrorKind::Conflict;
    case 410:
      return ErrorKind::Gone;
    case 415:
      return ErrorKind::BadRequest;
    case 422:
      return ErrorKind::Invalid;
    case 429:
      return ErrorKind::TooManyRequests;
    default:
      break;
  }
  if (code >= 500 && code <= 599) return ErrorKind::ServerError;
  return ErrorKind::Unexpected;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  long long secs = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (ec != std::errc() || ptr == v.data() || secs < 0) return std::nullopt;
  return std::chrono::seconds(secs);
}

}  // namespace

bool Csr::approved() const {
  return has_condition(*this, "Approved");
}
bool Csr::denied() const {
  return has_condition(*this, "Denied");
}
bool Csr::failed() const {
  return has_condition(*this, "Failed");
}

const CsrCondition* Csr::terminal_condition() const {
  for (const auto& c : conditions) {
    if ((c.type == "Denied" || c.type == "Failed") && (c.status.empty() || c.status == "True")) return &c;
  }
  return nullptr;
}

std::string csr_create_body(const CsrCreate& r) {
  ordered_json spec = ordered_json::object();
  spec["request"] = base64_encode(r.request_pem);
  spec["signerName"] = r.signer_name;
  if (r.expiration_seconds) spec["expirationSeconds"] = *r.expiration_seconds;
  spec["usages"] = r.usages;
  ordered_json body = ordered_json::object();
  body["kind"] = "CertificateSigningRequest";
  body["apiVersion"] = "certificates.k8s.io/v1";
  body["metadata"] = ordered_json{{"name", r.name}};
  body["spec"] = spec;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string csr_approval_body(const Csr& c, const CsrCondition& added) {
  ordered_json meta = ordered_json::object();
  meta["name"] = c.name;
  if (!c.uid.empty()) meta["uid"] = c.uid;
  meta["resourceVersion"] = c.resource_version;
  if (!c.creation_timestamp.empty()) meta["creationTimestamp"] = c.creation_timestamp;
  ordered_json spec = ordered_json::object();
  spec["request"] = base64_encode(c.request_pem);
  spec["signerName"] = c.signer_name;
  if (c.expiration_seconds) spec["expirationSeconds"] = *c.expiration_seconds;
  spec["usages"] = c.usages;
  spec["username"] = c.username;
  spec["groups"] = c.groups;
  ordered_json conditions = ordered_json::array();
  for (const CsrCondition* k : [&] {
         std::vector<const CsrCondition*> all;
         for (const auto& x : c.conditions) all.push_back(&x);
         all.push_back(&added);
         return all;
       }()) {
    ordered_json j = ordered_json::object();
    j["type"] = k->type;
    j["status"] = k->status.empty() ? "True" : k->status;
    if (!k->reason.empty()) j["reason"] = k->reason;
    if (!k->message.empty()) j["message"] = k->message;
    if (!k->last_update_time.empty()) j["lastUpdateTime"] = k->last_update_time;
    conditions.push_back(std::move(j));
  }
  ordered_json body = ordered_json::object();
  body["kind"] = "CertificateSigningRequest";
  body["apiVersion"] = "certificates.k8s.io/v1";
  body["metadata"] = meta;
  body["spec"] = spec;
  body["status"] = ordered_json{{"conditions", conditions}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Expected<Csr> parse_csr(const json& o) {
  if (!o.is_object()) return Unexpected(make_error(ErrorKind::Unexpected, std::string("not a JSON object")));
  if (str(o, "kind") != "CertificateSigningRequest") {
    return Unexpected(make_error(ErrorKind::Unexpected,
                                 "kind is \"" + str(o, "kind") + "\", expected CertificateSigningRequest"));
  }
  Csr c;
  const json& meta = o.value("metadata", json::object());
  c.name = str(meta, "name");
  c.uid = str(meta, "uid");
  c.resource_version = str(meta, "resourceVersion");
  c.creation_timestamp = str(meta, "creationTimestamp");
  const json& spec = o.value("spec", json::object());
  if (!spec.is_object())
    return Unexpected(make_error(ErrorKind::Unexpected, std::string("spec is not an object")));
  if (auto req = str(spec, "request"); !req.empty()) {
    auto decoded = base64_decode(req);
    if (!decoded)
      return Unexpected(make_error(ErrorKind::Unexpected, std::string("spec.request is not valid base64")));
    c.request_pem = *decoded;
  }
  c.signer_name = str(spec, "signerName");
  if (auto it = spec.find("usages"); it != spec.end() && it->is_array()) {
    for (const auto& u : *it) {
      if (u.is_string()) c.usages.push_back(u.get<std::string>());
    }
  }
  if (auto it = spec.find("expirationSeconds"); it != spec.end() && it->is_number_integer()) {
    c.expiration_seconds = it->get<std::int64_t>();
  }
  c.username = str(spec, "username");
  if (auto it = spec.find("groups"); it != spec.end() && it->is_array()) {
    for (const auto& g : *it) {
      if (g.is_string()) c.groups.push_back(g.get<std::string>());
    }
  }
  const json& status = o.value("status", json::object());
  if (status.is_object()) {
    if (auto it = status.find("conditions"); it != status.end() && it->is_array()) {
      for (const auto& cj : *it) {
        if (!cj.is_object()) continue;
        // The server's words reach status, the state file and the terminal: escaped and bounded.
        c.conditions.push_back(
            CsrCondition{outside_text(str(cj, "type"), 64), outside_text(str(cj, "status"), 16),
                         outside_text(str(cj, "reason"), 128), outside_text(str(cj, "message")),
                         outside_text(str(cj, "lastUpdateTime"), 64)});
      }
    }
    if (auto cert = str(status, "certificate"); !cert.empty()) {
      auto decoded = base64_decode(cert);
      if (!decoded)
        return Unexpected(
            make_error(ErrorKind::Unexpected, std::string("status.certificate is not valid base64")));
      c.certificate_pem = *decoded;
    }
  }
  return c;
}

Result<CsrList> csr_list_from_response(int http_status, std::string_view body,
                                       std::string_view retry_after_header) {
  if (http_status != 200) return Unexpected(error_from_response(http_status, body, retry_after_header));
  const auto unexpected = [http_status](std::string message) {
    Error e = make_error(ErrorKind::Unexpected, "unexpected list response: " + std::move(message));
    e.code = http_status;
    return Unexpected(e);
  };
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return unexpected("not a JSON object");
  if (str(j, "kind") != "CertificateSigningRequestList")
    return unexpected("kind is \"" + outside_text(str(j, "kind"), 64) +
                      "\", expected CertificateSigningRequestList");
  CsrList list;
  const json meta = j.value("metadata", json::object());
  list.resource_version = str(meta, "resourceVersion");
  list.continue_token = str(meta, "continue");
  const auto items = j.find("items");
  if (items == j.end() || items->is_null()) return list;
  if (!items->is_array()) return unexpected("items is not a list");
  for (const auto& item : *items) {
    json object = item;
    if (object.is_object() && !object.contains("kind")) object["kind"] = "CertificateSigningRequest";
    auto csr = parse_csr(object);
    if (!csr) return unexpected("an item: " + csr.error().message);
    list.items.push_back(std::move(*csr));
  }
  return list;
}

Result<Csr> csr_from_response(int http_status, std::string_view body, std::string_view retry_after_header,
                              int expected_status) {
  if (http_status != expected_status && !(expected_status == 201 && http_status == 200))
    return Unexpected(error_from_response(http_status, body, retry_after_header));
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    Error e = make_error(ErrorKind::Unexpected, "response is not JSON");
    e.code = http_status;
    return Unexpected(e);
  }
  auto csr = parse_csr(j);
  if (!csr) {
    Error e = make_error(ErrorKind::Unexpected, "unexpected response: " + csr.error().message);
    e.code = http_status;
    return Unexpected(e);
  }
  return *csr;
}

Error error_from_status_object(const json& status, int fallback_code) {
  Error e;
  int code = fallback_code;
  if (auto it = status.find("code"); it != status.end() && it->is_number_integer()) code = it->get<int>();
  e.code = code;
  e.reason = outside_text(str(status, "reason"), 128);
  e.message = outside_text(str(status, "message"));
  e.kind = kind_for(code, e.reason);
  e.retryable = retryable_by_default(e.kind);
  if (auto d = status.find("details"); d != status.end() && d->is_object()) {
    if (auto ra = d->find("retryAfterSeconds");
        ra != d->end() && ra->is_number_integer() && ra->get<long long>() > 0) {
      e.retry_after = std::chrono::seconds(ra->get<long long>());
    }
  }
  return e;
}

Error error_from_response(int http_status, std::string_view body, std::string_view retry_after_header) {
  Error e;
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && str(j, "kind") == "Status") {
    e = error_from_status_object(j, http_status);
    e.code = http_status;
    e.kind = kind_for(http_status, e.reason);
  } else {
    e.code = http_status;
    e.kind = kind_for(http_status, {});
    std::string_view text = body.substr(0, 200);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    e.message = text.empty() ? "HTTP " + std::to_string(http_status) : outside_text(text, 200);
  }
  if (!retry_after_header.empty()) {
    if (auto ra = parse_retry_after(retry_after_header)) e.retry_after = ra;
  }
  e.retryable = retryable_by_default(e.kind);
  return e;
}

Result<WatchEvent> parse_watch_line(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  auto bad = [](std::string why) {
    return Unexpected(make_error(ErrorKind::Unexpected, "malformed watch event: " + why));
  };
  if (j.is_discarded() || !j.is_object()) return bad("not JSON");
  const std::string type = str(j, "type");
  auto obj = j.find("object");
  if (obj == j.end()) return bad("no object");
  WatchEvent ev;
  if (type == "ADDED")
    ev.type = WatchEvent::Type::Added;
  else if (type == "MODIFIED")
    ev.type = WatchEvent::Type::Modified;
  else if (type == "DELETED")
    ev.type = WatchEvent::Type::Deleted;
  else if (type == "BOOKMARK")
    ev.type = WatchEvent::Type::Bookmark;
  else if (type == "ERROR")
    ev.type = WatchEvent::Type::Error;
  else
    return bad("unknown type \"" + type + "\"");
  if (ev.type == WatchEvent::Type::Error) {
    ev.error = error_from_status_object(*obj, 500);
    return ev;
  }
  if (ev.type == WatchEvent::Type::Bookmark) {
    if (obj->is_object())
      ev.object.resource_version = str(obj->value("metadata", json::object()), "resourceVersion");
    return ev;
  }
  auto csr = parse_csr(*obj);
  if (!csr) return bad(csr.error().message);
  ev.object = std::move(*csr);
  return ev;
}

std::vector<Result<WatchEvent>> WatchDecoder::feed(std::string_view bytes) {
  std::vector<Result<WatchEvent>> out;
  if (failed_) return out;
  auto too_long = [&] {
    failed_ = true;
    pending_.clear();
    out.emplace_back(Unexpected(
        make_error(ErrorKind::Unexpected, "watch event longer than " + std::to_string(max_line_) +
                                              " bytes: the server sent something that is not a CSR event")));
  };
  while (!bytes.empty()) {
    const std::size_t nl = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, nl);
    if (pending_.size() + piece.size() > max_line_ + 1) {  // +1: a "\r" before the newline
      too_long();
      return out;
    }
    if (nl == std::string_view::npos) {
      pending_.append(piece);
      return out;
    }
    std::string_view line = piece;
    if (!pending_.empty()) {
      pending_.append(piece);
      line = pending_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) out.push_back(parse_watch_line(line));
    pending_.clear();
    bytes.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace kcd::api

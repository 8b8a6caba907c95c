// The CSR handlers: what a create must look like (422 causes to the letter), and the other verbs.
#include "tests/devapi/csr_api.hpp"

#include "base/base64.hpp"
#include "rotation/csr.hpp"
#include "tests/devapi/generated.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>
#include <vector>

namespace kcd::devapi {

namespace http = boost::beast::http;

namespace {

const std::vector<std::string> kSupportedUsages = {"any",
                                                   "cert sign",
                                                   "client auth",
                                                   "code signing",
                                                   "content commitment",
                                                   "crl sign",
                                                   "data encipherment",
                                                   "decipher only",
                                                   "digital signature",
                                                   "email protection",
                                                   "encipher only",
                                                   "ipsec end system",
                                                   "ipsec tunnel",
                                                   "ipsec user",
                                                   "key agreement",
                                                   "key encipherment",
                                                   "microsoft sgc",
                                                   "netscape sgc",
                                                   "ocsp signing",
                                                   "s/mime",
                                                   "server auth",
                                                   "signing",
                                                   "timestamping"};

struct Cause {
  std::string reason, message, field;
};

std::vector<Cause> validate_create(const ojson& spec, const CsrObject& c, const std::string& request_raw) {
  std::vector<Cause> causes;
  if (c.name.empty() && c.generate_name.empty()) {
    causes.push_back(
        {"FieldValueRequired", "Required value: name or generateName is required", "metadata.name"});
  }
  if (request_raw.empty()) {
    causes.push_back({"FieldValueRequired", "Required value: request must be provided", "spec.request"});
  } else if (c.request_pem.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string::npos) {
    causes.push_back(
        {"FieldValueInvalid",
         "Invalid value: " + go_bytes(c.request_pem) + ": PEM block type must be CERTIFICATE REQUEST",
         "spec.request"});
  } else if (auto parsed = rotation::parse_csr_pem(c.request_pem); !parsed || !parsed->signature_valid) {
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: " + go_bytes(c.request_pem) + ": x509: invalid signature",
                      "spec.request"});
  }
  if (c.usages.empty()) {
    causes.push_back({"FieldValueRequired", "Required value: usages must be provided", "spec.usages"});
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < c.usages.size(); ++i) {
    const std::string field = "spec.usages[" + std::to_string(i) + "]";
    if (std::find(kSupportedUsages.begin(), kSupportedUsages.end(), c.usages[i]) == kSupportedUsages.end()) {
      std::string supported;
      for (std::size_t k = 0; k < kSupportedUsages.size(); ++k)
        supported += (k ? ", " : "") + go_quote(kSupportedUsages[k]);
      causes.push_back({"FieldValueNotSupported",
                        "Unsupported value: " + go_quote(c.usages[i]) + ": supported values: " + supported,
                        field});
    } else if (!seen.insert(c.usages[i]).second) {
      causes.push_back({"FieldValueDuplicate", "Duplicate value: " + go_quote(c.usages[i]), field});
    }
  }
  if (c.signer.empty()) {
    causes.push_back(
        {"FieldValueRequired", "Required value: signerName must be provided", "spec.signerName"});
  } else {
    const auto slash = c.signer.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == c.signer.size() ||
        c.signer.find('.') > slash) {
      causes.push_back(
          {"FieldValueInvalid",
           "Invalid value: " + go_quote(c.signer) +
               ": must be a fully qualified domain and path of the form 'example.com/signer-name'",
           "spec.signerName"});
    }
  }
  if (auto e = spec.find("expirationSeconds");
      e != spec.end() && e->is_number_integer() && e->get<long long>() < 600) {
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: " + std::to_string(e->get<long long>()) +
                          ": may not specify a duration less than 600 seconds (10 minutes)",
                      "spec.expirationSeconds"});
  }
  return causes;
}

// 422 Invalid: one cause is named alone, several as a bracketed list.
Reply invalid(const std::string& display_name, const std::vector<Cause>& causes) {
  std::string msg =
      "CertificateSigningRequest.certificates.k8s.io " + go_quote(display_name) + " is invalid: ";
  ojson jc = ojson::array();
  std::vector<std::string> parts;
  for (const auto& cause : causes) {
    parts.push_back(cause.field + ": " + cause.message);
    ojson x = ojson::object();
    x["reason"] = cause.reason;
    x["message"] = cause.message;
    x["field"] = cause.field;
    jc.push_back(x);
  }
  if (parts.size() == 1) {
    msg += parts.front();
  } else {
    msg += "[";
    for (std::size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
    msg += "]";
  }
  ojson details = ojson::object();
  details["name"] = display_name;
  details["group"] = "certificates.k8s.io";
  details["kind"] = "CertificateSigningRequest";
  details["causes"] = jc;
  return status_reply(status_object(422, "Invalid", msg, details));
}

constexpr std::string_view kServingSigner = "kubernetes.io/kubelet-serving";

bool can_read(const User& user) {
  return can_request_certificates(user) || is_serving_approver(user);
}

// What server-side apply records for a generateName create, as recorded.
ojson generate_name_managed_fields(const Request& req) {
  const std::string user_agent(req[http::field::user_agent]);
  ojson mf = ojson::object();
  mf["manager"] = user_agent.substr(0, user_agent.find('/'));
  mf["operation"] = "Update";
  mf["apiVersion"] = "certificates.k8s.io/v1";
  mf["time"] = now_rfc3339();
  mf["fieldsType"] = "FieldsV1";
  mf["fieldsV1"] = ojson{{"f:metadata", ojson{{"f:generateName", ojson::object()}}}};
  return ojson::array({mf});
}

}  // namespace

std::string name_selector(const Query& query) {
  if (auto f = query.find("fieldSelector"); f != query.end() && f->second.rfind("metadata.name=", 0) == 0) {
    return f->second.substr(14);
  }
  return "";
}

std::string signer_selector(const Query& query) {
  constexpr std::string_view kKey = "spec.signerName=";
  if (auto f = query.find("fieldSelector"); f != query.end() && f->second.rfind(kKey, 0) == 0) {
    return f->second.substr(kKey.size());
  }
  return "";
}

Reply CsrApi::create(const Request& req, const User& user) {
  auto ct = std::string(req[http::field::content_type]);
  if (ct.rfind("application/json", 0) != 0 && ct.rfind("application/yaml", 0) != 0) {
    return status_reply(
        status_object(415, "UnsupportedMediaType",
                      "the body of the request was in an unknown format - accepted media types include: "
                      "application/json, application/yaml, application/vnd.kubernetes.protobuf"));
  }
  ojson body = ojson::parse(req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    const std::string& raw = req.body();
    std::string snippet = raw.substr(0, 30);
    if (raw.size() > 30) snippet += " ...";
    return status_reply(
        status_object(400, "BadRequest",
                      "the object provided is unrecognized (must be of type CertificateSigningRequest): "
                      "couldn't get version/kind; json parse error: unexpected end of JSON input (" +
                          snippet + ")"));
  }
  const std::string kind = body.value("kind", "");
  const std::string api_version = body.value("apiVersion", "");
  if (kind != "CertificateSigningRequest") {
    const std::string version = api_version.substr(api_version.rfind('/') + 1);
    return status_reply(status_object(400, "BadRequest",
                                      kind + " in version " + go_quote(version) +
                                          " cannot be handled as a CertificateSigningRequest: no kind " +
                                          go_quote(kind) +
                                          " is registered for version \"certificates.k8s.io/v1\" in scheme "
                                          "\"pkg/runtime/scheme.go:100\""));
  }
  if (!can_request_certificates(user)) return forbidden(user.name, "create", "");
  CsrObject c;
  const auto& meta = body.value("metadata", ojson::object());
  c.name = meta.value("name", "");
  c.generate_name = meta.value("generateName", "");
  const auto& spec = body.value("spec", ojson::object());
  const std::string request_raw = spec.value("request", "");
  c.request_b64 = request_raw;
  c.request_pem = base64_decode(request_raw).value_or(std::string());
  c.signer = spec.value("signerName", "");
  if (auto u = spec.find("usages"); u != spec.end() && u->is_array()) {
    for (const auto& x : *u) c.usages.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  }
  if (auto e = spec.find("expirationSeconds"); e != spec.end() && e->is_number_integer())
    c.expiration_seconds = e->get<long long>();
  if (auto causes = validate_create(spec, c, request_raw); !causes.empty()) {
    return invalid(c.name.empty() ? c.generate_name : c.name, causes);
  }
  if (c.name.empty()) {
    do {
      c.name = c.generate_name + random_name_suffix();
    } while (store_.contains(c.name));
    c.managed_fields = generate_name_managed_fields(req);
  }
  if (store_.contains(c.name)) {
    return status_reply(status_object(
        409, "AlreadyExists",
        "certificatesigningrequests.certificates.k8s.io " + go_quote(c.name) + " already exists",
        csr_details(c.name)));
  }
  c.username = user.name;
  c.groups = user.groups;
  const CsrObject& stored = store_.create(std::move(c));
  controllers_.csr_created(stored.name);
  return object_reply(201, stored.to_json());
}

namespace {

// The apiserver's continue token: base64url (no padding) of
// {"v":"meta.k8s.io/v1","rv":<list resourceVersion>,"start":"<next key>"}, as recorded.
std::string continue_token(long rv, const std::string& start) {
  ojson t = ojson::object();
  t["v"] = "meta.k8s.io/v1";
  t["rv"] = rv;
  t["start"] = start;
  return base64url_encode_nopad(t.dump());
}

struct ContinueFrom {
  long rv = 0;
  std::string start;
};
std::optional<ContinueFrom> parse_continue(std::string token) {
  for (char& c : token) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (token.size() % 4 != 0) token += '=';
  auto raw = base64_decode(token);
  if (!raw) return std::nullopt;
  ojson t = ojson::parse(*raw, nullptr, false);
  if (t.is_discarded() || !t.is_object() || t.value("v", "") != "meta.k8s.io/v1") return std::nullopt;
  auto rv = t.find("rv");
  auto start = t.find("start");
  if (rv == t.end() || !rv->is_number_integer() || start == t.end() || !start->is_string())
    return std::nullopt;
  return ContinueFrom{rv->get<long>(), start->get<std::string>()};
}

}  // namespace

// A list, in pages when `limit` is given: metadata.continue and remainingItemCount while more
// remain; a continue token from before a compaction is 410 Expired (with a fresh token), as
// the recorded apiserver answers (csr-list-200-paginated-limit2.json,
// csr-list-410-continue-expired.json). Items come in name order, as etcd keys do.
Reply CsrApi::list(const User& user, const Query& query) const {
  if (!can_read(user)) return forbidden(user.name, "list", "");
  const std::string only_name = name_selector(query);
  const std::string only_signer = signer_selector(query);
  long limit = 0;
  if (auto l = query.find("limit"); l != query.end()) {
    limit = std::strtol(l->second.c_str(), nullptr, 10);
  }
  long list_rv = store_.resource_version();
  std::string start;
  if (auto c = query.find("continue"); c != query.end() && !c->second.empty()) {
    auto from = parse_continue(c->second);
    if (!from) {
      return status_reply(
          status_object(400, "BadRequest", "continue key is not valid: illegal base64 data at input byte 0"));
    }
    if (store_.compacted(from->rv)) {
      ojson st = status_object(
          410, "Expired",
          "The provided continue parameter is too old to display a consistent list result. You can start a "
          "new list without the continue parameter, or use the continue token in this response to retrieve "
          "the remainder of the results. Continuing with the provided token results in an inconsistent list "
          "- objects that were created, modified, or deleted between the time the first chunk was returned "
          "and now may show up in the list.");
      st["metadata"] = ojson{{"continue", continue_token(-1, from->start)}};
      return status_reply(st);
    }
    if (from->rv > 0) list_rv = from->rv;
    start = from->start;
  }
  ojson items = ojson::array();
  long remaining = 0;
  std::string next;
  for (auto it = store_.csrs().lower_bound(start); it != store_.csrs().end(); ++it) {
    const auto& [name, c] = *it;
    if (!only_name.empty() && name != only_name) continue;
    if (!only_signer.empty() && c.signer != only_signer) continue;
    if (limit > 0 && static_cast<long>(items.size()) >= limit) {
      if (next.empty()) next = items.back()["metadata"]["name"].get<std::string>() + std::string(1, '\0');
      ++remaining;
      continue;
    }
    ojson item = c.to_json();  // list items carry no kind and apiVersion, as recorded
    item.erase("kind");
    item.erase("apiVersion");
    items.push_back(item);
  }
  ojson l = ojson::object();
  l["kind"] = "CertificateSigningRequestList";
  l["apiVersion"] = "certificates.k8s.io/v1";
  ojson meta = ojson{{"resourceVersion", std::to_string(list_rv)}};
  if (!next.empty()) {
    meta["continue"] = continue_token(list_rv, next);
    meta["remainingItemCount"] = remaining;
  }
  l["metadata"] = meta;
  l["items"] = items;
  return object_reply(200, l);
}

Reply CsrApi::get(const User& user, const std::string& name) const {
  if (!can_read(user)) return forbidden(user.name, "get", name);
  const CsrObject* csr = store_.find(name);
  if (csr == nullptr) return csr_not_found(name);
  return object_reply(200, csr->to_json());
}

Reply CsrApi::remove(const User& user, const std::string& name) {
  if (!is_cluster_admin(user)) return forbidden(user.name, "delete", name);
  if (!store_.remove(name)) return csr_not_found(name);
  return csr_deleted(name);
}

// In the order the recorded apiserver checks: RBAC, existence, the resourceVersion
// precondition (409), validation (422 on a duplicate condition type), then the
// CertificateApproval admission plugin (403 unless the user may approve for the signer).
Reply CsrApi::update_approval(const User& user, const std::string& name, const std::string& body) {
  if (!is_cluster_admin(user) && !is_serving_approver(user))
    return forbidden(user.name, "update", name, "approval");
  CsrObject* csr = store_.find(name);
  if (csr == nullptr) return csr_not_found(name);
  ojson update = ojson::parse(body, nullptr, false);
  if (update.is_discarded() || !update.is_object()) {
    return status_reply(
        status_object(400, "BadRequest",
                      "the object provided is unrecognized (must be of type "
                      "CertificateSigningRequest): couldn't get version/kind; json parse error"));
  }
  const ojson meta = update.value("metadata", ojson::object());
  if (auto rv = meta.find("resourceVersion");
      rv != meta.end() && rv->is_string() && !rv->get<std::string>().empty() &&
      rv->get<std::string>() != std::to_string(csr->resource_version)) {
    return conflict("certificatesigningrequests.certificates.k8s.io", name, csr_details(name));
  }
  const ojson status = update.value("status", ojson::object());
  const ojson conditions = status.value("conditions", ojson::array());
  std::set<std::string> types;
  for (std::size_t i = 0; i < conditions.size(); ++i) {
    const std::string type = conditions[i].value("type", "");
    if (!types.insert(type).second) {
      return invalid(name, {{"FieldValueDuplicate", "Duplicate value: " + go_quote(type),
                             "status.conditions[" + std::to_string(i) + "].type"}});
    }
  }
  if (!is_cluster_admin(user) && csr->signer != kServingSigner) {
    return admission_forbidden("certificatesigningrequests.certificates.k8s.io " + go_quote(name) +
                                   " is forbidden: user not permitted to approve requests with signerName " +
                                   go_quote(csr->signer),
                               csr_details(name));
  }
  for (const auto& cnd : conditions) {
    const std::string type = cnd.value("type", "");
    if (type == "Approved" || type == "Denied") {
      controllers_.decide(name, type == "Approved",
                          cnd.value("reason", type == "Approved" ? "KubectlApprove" : "KubectlDeny"),
                          cnd.value("message", ""));
    }
  }
  return object_reply(200, store_.find(name)->to_json());
}

std::optional<Reply> CsrApi::refuse_watch(const User& user) const {
  if (!can_read(user)) return forbidden(user.name, "watch", "");
  return std::nullopt;
}

}  // namespace kcd::devapi

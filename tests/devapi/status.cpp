// Status bodies and their messages, in the recorded key order.
#include "tests/devapi/status.hpp"

#include <cstdio>

namespace kcd::devapi {

std::string go_quote(const std::string& s) {
  return ojson(s).dump();
}

std::string go_bytes(const std::string& data) {
  std::string out = "[]byte{";
  char buf[8];
  for (std::size_t i = 0; i < data.size(); ++i) {
    std::snprintf(buf, sizeof buf, "0x%x", static_cast<unsigned char>(data[i]));
    out += (i ? ", " : "") + std::string(buf);
  }
  return out + "}";
}

ojson status_object(int code, const std::string& reason, const std::string& message, const ojson& details) {
  ojson s = ojson::object();
  s["kind"] = "Status";
  s["apiVersion"] = "v1";
  s["metadata"] = ojson::object();
  s["status"] = "Failure";
  s["message"] = message;
  s["reason"] = reason;
  if (!details.is_null()) s["details"] = details;
  s["code"] = code;
  return s;
}

ojson csr_details(const std::string& name) {
  ojson d = ojson::object();
  if (!name.empty()) d["name"] = name;
  d["group"] = "certificates.k8s.io";
  d["kind"] = "certificatesigningrequests";
  return d;
}

Reply status_reply(const ojson& status) {
  Reply r;
  r.status = status["code"].get<int>();
  r.body = status.dump() + "\n";
  if (r.status == 403) r.nosniff = true;
  if (r.status == 401) r.apf_headers = false;
  return r;
}

Reply object_reply(int status, const ojson& object) {
  Reply r;
  r.status = status;
  r.body = object.dump() + "\n";
  return r;
}

Reply forbidden(const std::string& user, const std::string& verb, const std::string& name,
                const std::string& subresource) {
  const std::string resource = "certificatesigningrequests" + (subresource.empty() ? "" : "/" + subresource);
  std::string msg = "certificatesigningrequests.certificates.k8s.io ";
  if (!name.empty()) msg += go_quote(name) + " ";
  msg += "is forbidden: User " + go_quote(user) + " cannot " + verb + " resource " + go_quote(resource) +
         " in API group \"certificates.k8s.io\" at the cluster scope";
  return status_reply(status_object(403, "Forbidden", msg, csr_details(name)));
}

Reply csr_not_found(const std::string& name) {
  return status_reply(status_object(
      404, "NotFound", "certificatesigningrequests.certificates.k8s.io " + go_quote(name) + " not found",
      csr_details(name)));
}

Reply admission_forbidden(const std::string& message, const ojson& details) {
  Reply r = status_reply(status_object(403, "Forbidden", message, details));
  r.nosniff = false;
  return r;
}

Reply conflict(const std::string& qualified, const std::string& name, const ojson& details) {
  return status_reply(status_object(409, "Conflict",
                                    "Operation cannot be fulfilled on " + qualified + " " + go_quote(name) +
                                        ": the object has been modified; please apply your changes to the "
                                        "latest version and try again",
                                    details));
}

Reply csr_deleted(const std::string& name) {
  ojson ok = ojson::object();
  ok["kind"] = "Status";
  ok["apiVersion"] = "v1";
  ok["metadata"] = ojson::object();
  ok["status"] = "Success";
  ok["details"] = csr_details(name);
  return object_reply(200, ok);
}

Reply method_not_allowed() {
  return status_reply(status_object(405, "MethodNotAllowed",
                                    "the server does not allow this method on the requested resource"));
}

}  // namespace kcd::devapi

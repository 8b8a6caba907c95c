// What devapi's handlers read and answer: the Request, the Reply, and kube-apiserver's Status
// bodies for errors, worded to the letter as the recordings show.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace kcd::devapi {

using ojson = nlohmann::ordered_json;
using Request = boost::beast::http::request<boost::beast::http::string_body>;

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  bool nosniff = false;
  bool apf_headers = true;  // the X-Kubernetes-Pf-* headers (not sent with a 401)
  std::optional<int> retry_after;
};

// Go's %q of a string, as apiserver messages quote names.
std::string go_quote(const std::string& s);
// Go's %#v of a []byte, as validation messages print a rejected request.
std::string go_bytes(const std::string& data);

ojson status_object(int code, const std::string& reason, const std::string& message,
                    const ojson& details = nullptr);
// The details naming a CSR (or the resource, when `name` is empty).
ojson csr_details(const std::string& name);

Reply status_reply(const ojson& status);
Reply object_reply(int status, const ojson& object);
// RBAC's denial; `name` and `subresource` may be empty.
Reply forbidden(const std::string& user, const std::string& verb, const std::string& name,
                const std::string& subresource = "");
Reply csr_not_found(const std::string& name);
// An admission plugin's 403 (NodeRestriction, CertificateApproval): unlike an authorization
// 403 it has no X-Content-Type-Options header, as recorded.
Reply admission_forbidden(const std::string& message, const ojson& details);
// 409 Conflict: a write carried a stale metadata.resourceVersion. `qualified` is
// "<resource>.<group>" ("leases.coordination.k8s.io"), `details` the Status details.
Reply conflict(const std::string& qualified, const std::string& name, const ojson& details);
// The Success Status a delete answers with.
Reply csr_deleted(const std::string& name);
Reply method_not_allowed();

}  // namespace kcd::devapi

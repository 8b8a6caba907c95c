// The certificatesigningrequests resource as kube-apiserver serves it: decoding and validating
// creates, get, list with a name field selector, delete, and the approval subresource (watches
// are streamed by watch.hpp).
#pragma once

#include "tests/devapi/auth.hpp"
#include "tests/devapi/controllers.hpp"
#include "tests/devapi/status.hpp"
#include "tests/devapi/store.hpp"

#include <map>
#include <optional>
#include <string>

namespace kcd::devapi {

using Query = std::map<std::string, std::string>;

// The name a "metadata.name=<name>" fieldSelector picks; empty: every CSR.
std::string name_selector(const Query& query);
// The signer a "spec.signerName=<signer>" fieldSelector picks; empty: every signer.
std::string signer_selector(const Query& query);

// Each handler checks RBAC itself, once its verb is known: create only after the body decodes,
// so a malformed body gets its 400/415 even from a user RBAC would refuse.
class CsrApi {
 public:
  CsrApi(CsrStore& store, Controllers& controllers) : store_(store), controllers_(controllers) {}

  Reply create(const Request& req, const User& user);
  Reply list(const User& user, const Query& query) const;
  Reply get(const User& user, const std::string& name) const;
  Reply remove(const User& user, const std::string& name);
  Reply update_approval(const User& user, const std::string& name, const std::string& body);
  // A 403 when the user may not watch CSRs.
  std::optional<Reply> refuse_watch(const User& user) const;

 private:
  CsrStore& store_;
  Controllers& controllers_;
};

}  // namespace kcd::devapi

// The CSR store and its event history, in the shapes the recorded apiserver sends.
#include "tests/devapi/store.hpp"

#include "tests/devapi/generated.hpp"

#include <utility>

namespace kcd::devapi {

bool CsrObject::has_condition(std::string_view type) const {
  for (const auto& c : conditions) {
    if (c["type"] == type) return true;
  }
  return false;
}

ojson CsrObject::to_json() const {
  ojson meta = ojson::object();
  meta["name"] = name;
  if (!generate_name.empty()) meta["generateName"] = generate_name;
  meta["uid"] = uid;
  meta["resourceVersion"] = std::to_string(resource_version);
  meta["creationTimestamp"] = created;
  if (!managed_fields.is_null()) meta["managedFields"] = managed_fields;
  ojson spec = ojson::object();
  spec["request"] = request_b64;
  spec["signerName"] = signer;
  if (expiration_seconds) spec["expirationSeconds"] = *expiration_seconds;
  spec["usages"] = usages;
  spec["username"] = username;
  spec["groups"] = groups;
  ojson status = ojson::object();
  if (!conditions.empty()) status["conditions"] = conditions;
  if (!certificate_b64.empty()) status["certificate"] = certificate_b64;
  ojson o = ojson::object();
  o["kind"] = "CertificateSigningRequest";
  o["apiVersion"] = "certificates.k8s.io/v1";
  o["metadata"] = meta;
  o["spec"] = spec;
  o["status"] = status;
  return o;
}

CsrStore::CsrStore(long initial_resource_version, int history_limit)
    : history_limit_(history_limit), resource_version_(initial_resource_version) {}

CsrObject* CsrStore::find(const std::string& name) {
  auto it = csrs_.find(name);
  return it == csrs_.end() ? nullptr : &it->second;
}

const CsrObject& CsrStore::create(CsrObject csr) {
  csr.uid = random_uuid();
  csr.created = now_rfc3339();
  csr.created_at = std::chrono::steady_clock::now();
  csr.resource_version = ++resource_version_;
  const CsrObject& stored = csrs_.emplace(csr.name, std::move(csr)).first->second;
  ++created_;
  emit("ADDED", stored);
  return stored;
}

void CsrStore::modified(CsrObject& csr) {
  csr.resource_version = ++resource_version_;
  emit("MODIFIED", csr);
}

bool CsrStore::remove(const std::string& name) {
  auto it = csrs_.find(name);
  if (it == csrs_.end()) return false;
  CsrObject gone = std::move(it->second);
  csrs_.erase(it);
  gone.resource_version = ++resource_version_;
  emit("DELETED", gone);
  return true;
}

const ojson* CsrStore::find_object(const std::string& resource, const std::string& ns,
                                   const std::string& name) const {
  auto r = objects_.find(resource);
  if (r == objects_.end()) return nullptr;
  auto it = r->second.find(ns + "/" + name);
  return it == r->second.end() ? nullptr : &it->second;
}

ojson* CsrStore::find_object(const std::string& resource, const std::string& ns, const std::string& name) {
  return const_cast<ojson*>(std::as_const(*this).find_object(resource, ns, name));
}

const ojson& CsrStore::create_object(const std::string& resource, const std::string& ns, ojson object) {
  ojson& meta = object["metadata"];
  meta["uid"] = random_uuid();
  meta["resourceVersion"] = std::to_string(++resource_version_);
  meta["creationTimestamp"] = now_rfc3339();
  const std::string name = meta["name"];
  const ojson& stored = objects_[resource][ns + "/" + name] = std::move(object);
  if (resource == "nodes") emit(resource, "ADDED", name, resource_version_, stored);
  return stored;
}

const ojson& CsrStore::create_preexisting_object(const std::string& resource, const std::string& ns,
                                                 ojson object) {
  ojson& meta = object["metadata"];
  meta["uid"] = random_uuid();
  meta["resourceVersion"] = std::to_string(resource_version_);
  meta["creationTimestamp"] = now_rfc3339();
  const std::string name = meta["name"];
  return objects_[resource][ns + "/" + name] = std::move(object);
}

void CsrStore::modified_object(const std::string& resource, ojson& object) {
  object["metadata"]["resourceVersion"] = std::to_string(++resource_version_);
  if (resource == "nodes") emit(resource, "MODIFIED", object["metadata"]["name"], resource_version_, object);
}

std::vector<const ojson*> CsrStore::objects(const std::string& resource, const std::string& ns) const {
  std::vector<const ojson*> out;
  auto r = objects_.find(resource);
  if (r == objects_.end()) return out;
  for (const auto& [key, o] : r->second) {
    if (ns.empty() || key.compare(0, ns.size() + 1, ns + "/") == 0) out.push_back(&o);
  }
  return out;
}

void CsrStore::emit(const std::string& type, const CsrObject& csr) {
  emit("certificatesigningrequests", type, csr.name, csr.resource_version, csr.to_json(), csr.signer);
}

void CsrStore::emit(const std::string& resource, const std::string& type, const std::string& name,
                    long version, const ojson& object, const std::string& signer) {
  ojson ev = ojson::object();
  ev["type"] = type;
  ev["object"] = object;
  history_.push_back(WatchEvent{version, resource, type, name, signer, ev.dump() + "\n"});
  while (static_cast<int>(history_.size()) > history_limit_) history_.pop_front();
  if (listener_) listener_();
}

}  // namespace kcd::devapi

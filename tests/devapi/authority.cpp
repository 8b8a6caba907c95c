// The CA bundle, signer and serving CA, their rotation steps and their files.
#include "tests/devapi/authority.hpp"

#include "base/files.hpp"
#include "base/rfc3339.hpp"
#include "rotation/certificate.hpp"
#include "tests/support/must.hpp"

#include <stdexcept>
#include <system_error>

namespace kcd::devapi {

using nlohmann::json;

namespace {

constexpr std::chrono::hours kCaValidity{24 * 365 * 10};  // kubeadm's CA lifetime: 10 years

bool file_exists(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

// cas.json as load_or_create reads it; throws std::runtime_error naming the file and the field.
void parse_cas_json(const std::filesystem::path& file, std::vector<testing::TestCa>& cas, std::size_t& signer,
                    std::size_t& serving) {
  const json j = json::parse(testing::must(kcd::read_file(file)), nullptr, false);
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(file.string() + ": " + what + " (delete the state directory to start afresh)");
  };
  if (j.is_discarded() || !j.is_object()) fail("not a JSON object");
  const auto list = j.find("cas");
  if (list == j.end() || !list->is_array() || list->empty() || list->size() > kMaxCas)
    fail("cas: expected 1 to " + std::to_string(kMaxCas) + " CAs");
  for (const auto& c : *list) {
    if (!c.is_object() || !c.value("cert", json()).is_string() || !c.value("key", json()).is_string())
      fail("cas: each entry needs the strings cert and key");
    try {
      cas.push_back(testing::TestCa::load(c["cert"].get<std::string>(), c["key"].get<std::string>()));
    } catch (const std::exception& e) {
      fail("cas[" + std::to_string(cas.size()) + "]: " + e.what());
    }
  }
  for (auto [name, index] : {std::pair{"signer", &signer}, std::pair{"serving", &serving}}) {
    const auto v = j.find(name);
    if (v == j.end() || !v->is_number_unsigned() || v->get<std::size_t>() >= cas.size())
      fail(std::string(name) + ": expected the index of a CA in cas");
    *index = v->get<std::size_t>();
  }
}

}  // namespace

Authority Authority::load_or_create(const std::filesystem::path& state_dir) {
  Authority a;
  if (!state_dir.empty() && file_exists(state_dir / "cas.json")) {
    parse_cas_json(state_dir / "cas.json", a.cas_, a.signer_, a.serving_);
    return a;
  }
  if (!state_dir.empty() && file_exists(state_dir / "ca.crt") && file_exists(state_dir / "ca.key")) {
    a.cas_.push_back(testing::TestCa::load(testing::must(kcd::read_file(state_dir / "ca.crt")),
                                           testing::must(kcd::read_file(state_dir / "ca.key"))));
    return a;
  }
  a.cas_.push_back(testing::TestCa::create_root("kubernetes", KeyAlgorithm::Rsa2048, kCaValidity));
  return a;
}

std::string Authority::bundle_pem() const {
  std::string out;
  for (const auto& ca : cas_) out += ca.cert_pem();
  return out;
}

Expected<void> Authority::add_ca() {
  if (cas_.size() >= kMaxCas) {
    return Unexpected(make_error(ErrorKind::Refused, "add_ca: the bundle already holds " +
                                                         std::to_string(kMaxCas) +
                                                         " CAs, devapi's limit; drop_ca first"));
  }
  cas_.push_back(testing::TestCa::create_root("kubernetes", KeyAlgorithm::EcdsaP256, kCaValidity));
  return {};
}

Expected<void> Authority::switch_signer() {
  signer_ = cas_.size() - 1;
  return {};
}

Expected<void> Authority::switch_serving() {
  serving_ = cas_.size() - 1;
  return {};
}

Expected<void> Authority::drop_ca() {
  auto refuse = [](const std::string& why) {
    return Unexpected(make_error(ErrorKind::Conflict, "drop_ca: " + why + "; nothing was changed"));
  };
  if (cas_.size() == 1) return refuse("the bundle holds one CA only; add_ca first");
  if (signer_ == 0) return refuse("the oldest CA still signs certificates; switch_signer first");
  if (serving_ == 0)
    return refuse("the oldest CA still issues the serving certificate; switch_serving first");
  cas_.erase(cas_.begin());
  --signer_;
  --serving_;
  return {};
}

json Authority::summary() const {
  json bundle = json::array();
  for (const auto& ca : cas_) {
    const auto info = rotation::inspect_certificate(ca.cert());
    bundle.push_back(json{{"subject", "CN=" + info.common_name},
                          {"sha256", info.sha256_fingerprint},
                          {"keyAlgorithm", info.key_algorithm},
                          {"notBefore", to_rfc3339(info.not_before)},
                          {"notAfter", to_rfc3339(info.not_after)}});
  }
  return json{{"bundle", bundle}, {"signer", signer_}, {"serving", serving_}, {"bundlePem", bundle_pem()}};
}

Expected<void> Authority::save(const std::filesystem::path& dir) const {
  json list = json::array();
  for (const auto& ca : cas_) list.push_back(json{{"cert", ca.cert_pem()}, {"key", ca.key_pem()}});
  const json state = {{"cas", list}, {"signer", signer_}, {"serving", serving_}};
  // cas.json first: it is what a restart reads; the others are derived from it.
  if (auto r = kcd::write_file_atomic(dir / "cas.json", state.dump(2) + "\n", 0600); !r) return r;
  if (auto r = kcd::write_file_atomic(dir / "ca.crt", bundle_pem(), 0644); !r) return r;
  if (auto r = kcd::write_file_atomic(dir / "signer-ca.crt", signer().cert_pem(), 0644); !r) return r;
  return kcd::write_file_atomic(dir / "signer-ca.key", signer().key_pem(), 0600);
}

}  // namespace kcd::devapi

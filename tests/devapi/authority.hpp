// devapi's certificate authorities as an operator changes them with kubeadm's manual CA
// rotation: the bundle clients trust (oldest first), the CA that signs CSRs and client
// credentials, and the CA that issues devapi's own serving certificate. Each step is separate
// (add a CA, switch the signer, switch the serving certificate, drop the old CA), refused with a
// clear error and nothing changed when it does not apply, and persisted in the state directory.
#pragma once

#include "base/expected.hpp"
#include "tests/support/test_ca.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace kcd::devapi {

// The most CAs devapi's bundle holds at once (a rotation needs two; the node accepts bundles of
// up to rotation::kMaxBundleCertificates). add_ca past it is refused.
inline constexpr std::size_t kMaxCas = 10;

class Authority {
 public:
  // From `state_dir`/cas.json; else a state directory written before CA rotation existed
  // (ca.crt + ca.key: its one CA); else a new RSA 2048 root CN=kubernetes valid 10 years. An
  // empty `state_dir` always starts fresh. Throws std::runtime_error for files that do not parse.
  static Authority load_or_create(const std::filesystem::path& state_dir);

  // The bundle, oldest first; never empty.
  const std::vector<testing::TestCa>& cas() const { return cas_; }
  const testing::TestCa& signer() const { return cas_.at(signer_); }
  const testing::TestCa& serving() const { return cas_.at(serving_); }
  // Every CA's certificate PEM, concatenated in bundle order.
  std::string bundle_pem() const;

  // A new CA (ECDSA P-256, CN=kubernetes, CA:TRUE, keyUsage certSign, 10 years) appended to the
  // bundle. Refused (ErrorKind::Refused) when the bundle holds kMaxCas already.
  Expected<void> add_ca();
  // The newest CA signs from now on (no change when it already does).
  Expected<void> switch_signer();
  // The newest CA issues the serving certificate from now on (no change when it already does).
  Expected<void> switch_serving();
  // The oldest CA leaves the bundle. Refused (ErrorKind::Conflict) when it is the only one, or
  // while it still signs or issues the serving certificate (switch those first).
  Expected<void> drop_ca();

  // {"bundle": [{"subject", "sha256", "keyAlgorithm", "notBefore", "notAfter"}...] oldest
  // first, "signer": <index>, "serving": <index>, "bundlePem": <PEM>}.
  nlohmann::json summary() const;

  // cas.json (every CA with its key, 0600: the source of truth load_or_create reads), ca.crt
  // (the bundle, 0644) and signer-ca.crt / signer-ca.key (the signer's pair, 0644 / 0600).
  Expected<void> save(const std::filesystem::path& state_dir) const;

 private:
  Authority() = default;
  std::vector<testing::TestCa> cas_;
  std::size_t signer_ = 0;
  std::size_t serving_ = 0;
};

}  // namespace kcd::devapi

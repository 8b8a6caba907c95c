// kubelet-certd's own persisted state (certDir/kubelet-certd-state.json): what a restart must
// not forget — the CSR in flight, the drawn rotation deadline, the last error.
#pragma once

#include "base/expected.hpp"

#include "rotation/cert_kind.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kcd::rotation {

using SysTime = std::chrono::system_clock::time_point;

struct PendingCsr {
  std::string name;
  std::string key_sha256;  // fingerprint of the pending key's public key (binds state to key file)
  bool filed = false;      // the API server accepted it (201 or 409-and-ours)
  SysTime filed_at{};
  bool operator==(const PendingCsr&) const = default;
};

struct CertState {
  std::optional<PendingCsr> pending;
  // The rotation deadline drawn for the certificate with this SHA-256 fingerprint.
  std::string deadline_cert_sha256;
  std::optional<SysTime> deadline;
  std::optional<SysTime> last_csr_created;
  // After a denial/failure/vanished CSR: no new CSR before this (csrCreateInterval).
  std::optional<SysTime> next_csr_not_before;
  std::optional<SysTime> last_success;
  std::string last_error;
  std::optional<SysTime> last_error_at;
  long csrs_created = 0;
  bool operator==(const CertState&) const = default;
};

struct State {
  CertState client;
  CertState serving;
  CertState& of(CertKind k) { return k == CertKind::Client ? client : serving; }
  const CertState& of(CertKind k) const { return k == CertKind::Client ? client : serving; }
  bool operator==(const State&) const = default;
};

inline constexpr std::string_view kStateFileName = "kubelet-certd-state.json";

std::string serialize_state(const State& state);
// Every field is checked for its type and form; the first that is wrong is named in an
// ErrorKind::Corrupt error located at `source` (the caller sets the file aside and starts from an
// empty State: everything in it can be rediscovered, at worst by drawing a new deadline).
Expected<State> parse_state(std::string_view text, const std::string& source);

}  // namespace kcd::rotation

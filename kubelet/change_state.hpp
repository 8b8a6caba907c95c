// What kubelet-certd remembers about the changes it made to the kubelet's config file
// (certDir/kubelet-certd-kubelet.json): a change whose restart is not yet confirmed healthy
// (so a crash in between is finished or rolled back at the next start), the keys refused
// after a rollback (never tried again in a loop), and the rollback count. Pure: text in, text out.
#pragma once

#include "base/expected.hpp"
#include "base/rfc3339.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::kubelet {

inline constexpr std::string_view kChangeStateFileName = "kubelet-certd-kubelet.json";

struct PendingChange {
  std::string config;          // the kubelet config file changed
  std::string backup;          // its previous version ("" when the file did not exist before)
  std::string patched_sha256;  // what we wrote, to tell whether it is still in place
  std::vector<std::string> keys;
  std::string fingerprint;  // the kubelet and settings it was made for (see RefusedChange)
  SysTime since{};
  bool operator==(const PendingChange&) const = default;
};

struct RefusedChange {
  // The refusal holds while the kubelet version and the settings are the same: a new kubelet
  // or changed settings get one more try.
  std::string fingerprint;
  std::map<std::string, std::string> keys;  // key -> why (the rollback that refused it)
  SysTime at{};
  bool operator==(const RefusedChange&) const = default;
};

// The kubelet's client CA file as kubelet-certd last wrote it: the marker that makes the file
// ours to update when the cluster's bundle changes. A file without it, at another path, or
// whose contents hash to neither `sha256` nor `previous_sha256` (a crash between
// the record and the file) is the operator's and is never touched.
struct WrittenClientCa {
  std::string path;             // absolute
  std::string sha256;           // of the contents written
  std::string previous_sha256;  // of the contents it replaced ("" when it created the file)
  SysTime at{};
  bool operator==(const WrittenClientCa&) const = default;
};

struct ChangeState {
  std::optional<PendingChange> pending;
  std::optional<RefusedChange> refused;
  long rollbacks = 0;
  // The kubelet the last patch was written for, for `status`.
  std::string kubelet;
  std::optional<WrittenClientCa> client_ca;
  bool operator==(const ChangeState&) const = default;
};

std::string serialize_change_state(const ChangeState& state);

// Every field is checked for its type and form; the first problem is an ErrorKind::Corrupt error
// located at `source` ("refused.keys.seccompDefault: expected a string").
Expected<ChangeState> parse_change_state(std::string_view text, const std::string& source);

}  // namespace kcd::kubelet

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it, as a
// pure state machine: the caller reads and writes the Lease, and passes both clocks in.
//
// client-go's rules, kept here:
//   - A Lease held by another is taken over only when its record has not changed for
//     leaseDuration as *observed on our monotonic clock* (never by comparing its renewTime with
//     our wall clock: nodes' clocks may disagree).
//   - Writes carry the resourceVersion read; a 409 means someone else wrote first: this round is
//     lost, nothing is assumed.
//   - The leader renews every retryPeriod and stops leading when no renewal succeeded for
//     renewDeadline. renewDeadline < leaseDuration, so it stops deciding before anyone else may
//     take the Lease over.
// Defaults are client-go's: lease 15 s, renew deadline 10 s, retry 2 s.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace kcd::daemon {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

struct LeaderTimings {
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

// The Lease's spec and resourceVersion, as read or to be written.
struct LeaseRecord {
  std::string holder;  // spec.holderIdentity; empty: nobody
  std::int64_t lease_duration_seconds = 0;
  WallTime acquire_time{};
  WallTime renew_time{};
  std::int64_t transitions = 0;
  std::string resource_version;  // metadata.resourceVersion ("" for a create)
  bool operator==(const LeaseRecord&) const = default;
};

class LeaderElector {
 public:
  explicit LeaderElector(std::string identity, LeaderTimings timings = {});

  // What to write after reading the Lease (`observed`, nullopt when it does not exist).
  enum class Op { Create, Update, None };
  struct Attempt {
    Op op = Op::None;
    LeaseRecord record;  // for Create/Update: the record to write (with the resourceVersion read)
    std::string holder;  // who holds it now (for logs and the metric)
  };
  Attempt observe(const std::optional<LeaseRecord>& observed, WallTime wall, MonoTime mono);

  // The write of `attempt` was accepted (the server's answer, with its new resourceVersion).
  void written(const LeaseRecord& accepted, MonoTime mono);
  // It failed (409 Conflict, 403, a network error...): nothing is assumed.
  void write_failed(MonoTime mono);

  // True only while the last successful renewal is younger than renewDeadline.
  bool leading(MonoTime mono) const;
  // When to read the Lease again: retryPeriod after the last attempt.
  MonoTime next_attempt(MonoTime last_attempt) const { return last_attempt + timings_.retry_period; }
  const std::string& identity() const { return identity_; }
  const LeaderTimings& timings() const { return timings_; }

 private:
  std::string identity_;
  LeaderTimings timings_;
  std::optional<LeaseRecord> observed_;  // the last record read
  MonoTime observed_at_{};               // when it last changed, on our clock
  std::optional<MonoTime> renewed_at_;   // our last successful write as holder
};

}  // namespace kcd::daemon

#include "daemon/leader_election.hpp"

namespace kcd::daemon {

LeaderElector::LeaderElector(std::string identity, LeaderTimings timings)
    : identity_(std::move(identity)), timings_(timings) {}

LeaderElector::Attempt LeaderElector::observe(const std::optional<LeaseRecord>& observed, WallTime wall,
                                              MonoTime mono) {
  Attempt a;
  LeaseRecord next;
  next.holder = identity_;
  next.lease_duration_seconds = timings_.lease_duration.count();
  next.renew_time = wall;
  if (!observed) {
    next.acquire_time = wall;
    a.op = Op::Create;
    a.record = next;
    return a;
  }
  // A record that changed is a living holder: the expiry is measured from when we saw it change.
  if (!observed_ || !(*observed_ == *observed)) {
    observed_ = observed;
    observed_at_ = mono;
  }
  a.holder = observed->holder;
  const auto duration =
      std::chrono::seconds(observed->lease_duration_seconds > 0 ? observed->lease_duration_seconds
                                                                : timings_.lease_duration.count());
  const bool ours = observed->holder == identity_;
  const bool expired = observed->holder.empty() || observed_at_ + duration <= mono;
  if (!ours && !expired) {
    renewed_at_.reset();
    return a;  // someone else leads
  }
  next.acquire_time = ours ? observed->acquire_time : wall;
  next.transitions = ours ? observed->transitions : observed->transitions + 1;
  next.resource_version = observed->resource_version;
  a.op = Op::Update;
  a.record = next;
  return a;
}

void LeaderElector::written(const LeaseRecord& accepted, MonoTime mono) {
  observed_ = accepted;
  observed_at_ = mono;
  renewed_at_ = mono;
}

void LeaderElector::write_failed(MonoTime) {
  // The renewal deadline keeps counting from the last success; a lost race is not a success.
}

bool LeaderElector::leading(MonoTime mono) const {
  return renewed_at_ && mono - *renewed_at_ < timings_.renew_deadline;
}

}  // namespace kcd::daemon

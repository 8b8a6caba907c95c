// The one retry policy: capped exponential backoff with full jitter, honouring Retry-After.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

namespace kcd::rotation {

struct BackoffPolicy {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds cap{std::chrono::minutes(5)};
  // Full jitter can draw ~0; a floor keeps a failing peer from seeing a tight loop.
  std::chrono::milliseconds floor{200};
  // A server's Retry-After is honoured up to this bound (a broken proxy must not park us for days).
  std::chrono::milliseconds max_retry_after{std::chrono::hours(1)};
  // A rotation that fails while the current certificate still has time left is not urgent: its
  // retries are drawn over at least this share of the time left (at most max_spread), so that
  // a fleet whose rotations were held up by an outage comes back spread out instead of at once
  // (tests/fleetsim: the retry peak after a 10-minute outage). Not for a first certificate or a
  // requested renewal.
  double spread_fraction = 0.1;
  std::chrono::milliseconds max_spread{std::chrono::hours(1)};
};

class Backoff {
 public:
  // `uniform01` returns a uniformly distributed double in [0, 1); injected for tests.
  Backoff(BackoffPolicy policy, std::function<double()> uniform01);

  // The delay before the next attempt: uniform in [0, min(cap, initial * 2^attempts)],
  // at least `floor`, and at least Retry-After when the server sent one.
  // `min_ceiling`: the jitter is drawn over at least this (the spread of a non-urgent retry),
  // whatever the attempt count; it does not count against the cap.
  std::chrono::milliseconds next(std::optional<std::chrono::seconds> retry_after = std::nullopt,
                                 std::chrono::milliseconds min_ceiling = std::chrono::milliseconds(0));
  void reset() { attempts_ = 0; }
  int attempts() const { return attempts_; }
  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  std::function<double()> uniform01_;
  int attempts_ = 0;
};

// A uniform [0,1) source seeded from std::random_device, for production use.
std::function<double()> system_uniform01();

}  // namespace kcd::rotation

#include "rotation/backoff.hpp"

#include <algorithm>
#include <memory>
#include <random>

namespace kcd::rotation {

Backoff::Backoff(BackoffPolicy policy, std::function<double()> uniform01)
    : policy_(policy), uniform01_(std::move(uniform01)) {}

std::chrono::milliseconds Backoff::next(std::optional<std::chrono::seconds> retry_after,
                                        std::chrono::milliseconds min_ceiling) {
  using std::chrono::milliseconds;
  // initial * 2^attempts without overflow: stop doubling once past the cap.
  double ceiling = static_cast<double>(policy_.initial.count());
  for (int i = 0; i < attempts_ && ceiling < static_cast<double>(policy_.cap.count()); ++i) ceiling *= 2;
  ceiling = std::min(ceiling, static_cast<double>(policy_.cap.count()));
  ceiling = std::max(ceiling, static_cast<double>(min_ceiling.count()));
  ++attempts_;
  auto delay = milliseconds(static_cast<milliseconds::rep>(uniform01_() * ceiling));
  delay = std::max(delay, policy_.floor);
  if (retry_after) {
    auto ra = std::min<milliseconds>(*retry_after, policy_.max_retry_after);
    delay = std::max(delay, ra);
  }
  return delay;
}

std::function<double()> system_uniform01() {
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
}

}  // namespace kcd::rotation

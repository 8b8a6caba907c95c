// What becomes of an Event the agent records about its own Node, as client-go's EventCorrelator
// decides it: the same (reason, involved object, type, key) again within 10 minutes of the
// previous one is a PATCH of the first Event (count + 1, lastTimestamp, message) instead of a
// new Event, and a token bucket (client-go's spam filter: burst 25, one token per 5 minutes per
// source and involved object) drops the rest. Pure: the time is passed in.
#pragma once

#include "daemon/api/cluster_types.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

namespace kcd::daemon {

inline constexpr std::string_view kEventComponent = "kubelet-certd";
inline constexpr double kEventBurst = 25;
inline constexpr std::chrono::minutes kEventRefill{5};
inline constexpr std::chrono::minutes kEventRepeatWindow{10};
// Distinct events remembered for counting repeats (client-go keeps 4096; the agent has a few kinds).
inline constexpr std::size_t kEventCacheEntries = 256;

// One thing that happened to the node, before correlation.
struct NodeEvent {
  std::string type;    // Normal or Warning
  std::string reason;  // CamelCase
  std::string message;
  // What else makes two events the same (client-go's message key): "client", "serving",
  // "serving/KubectlDeny"... A repeat under the same key carries its latest message.
  std::string key;
};

struct EventAction {
  enum class Kind { Create, Patch, Drop } kind = Kind::Drop;
  api::EventRecord record;  // Create: the new Event; Patch: the first one's name, count and this message
};

// Events by outcome since start: created, patched (a repeat), and dropped by why
// (rate_limited, queue_full, refused, failed, stopped).
struct EventCounts {
  long created = 0;
  long patched = 0;
  std::map<std::string, long> dropped;
};

class EventCorrelator {
 public:
  using Time = std::chrono::system_clock::time_point;
  explicit EventCorrelator(std::string node_name);

  EventAction correlate(const NodeEvent& event, Time now);
  // The Event `name` was never stored (its create failed): a repeat creates a new one.
  void forget(const std::string& name);

 private:
  struct Seen {
    std::string name;
    Time first, last;
    std::int64_t count = 0;
  };
  bool take_token(Time now);

  std::string node_;
  double tokens_ = kEventBurst;
  Time refilled_{};
  Time named_{};  // the time in the last Event name: names stay distinct when the clock stands still
  bool started_ = false;
  std::map<std::string, Seen> seen_;
};

}  // namespace kcd::daemon

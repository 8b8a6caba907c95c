#include "daemon/event_correlator.hpp"

#include <algorithm>

namespace kcd::daemon {

EventCorrelator::EventCorrelator(std::string node_name) : node_(std::move(node_name)) {}

bool EventCorrelator::take_token(Time now) {
  if (!started_) {
    started_ = true;
    refilled_ = now;
  }
  if (now > refilled_) {
    const double earned =
        std::chrono::duration<double>(now - refilled_) / std::chrono::duration<double>(kEventRefill);
    tokens_ = std::min(kEventBurst, tokens_ + earned);
    refilled_ = now;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

EventAction EventCorrelator::correlate(const NodeEvent& event, Time now) {
  EventAction action;
  // client-go filters before it correlates: a repeat costs a token too.
  if (!take_token(now)) return action;
  api::EventRecord& r = action.record;
  r.namespace_ = "default";  // a cluster-scoped object's Events live in default
  // As the kubelet sets it: kubectl describe node finds Events by the node's name as uid.
  r.involved = {"Node", node_, node_, "", ""};
  r.type = event.type;
  r.reason = event.reason;
  r.message = event.message;
  r.component = std::string(kEventComponent);
  r.host = node_;
  const std::string key = event.type + '\n' + event.reason + '\n' + event.key;
  auto it = seen_.find(key);
  if (it != seen_.end() && now - it->second.last <= kEventRepeatWindow) {
    Seen& s = it->second;
    s.last = std::max(s.last, now);
    ++s.count;
    r.name = s.name;
    r.first = s.first;
    r.last = s.last;
    r.count = s.count;
    action.kind = EventAction::Kind::Patch;
    return action;
  }
  if (it == seen_.end() && seen_.size() >= kEventCacheEntries) {
    // The least recently seen is forgotten: its next repeat is a new Event.
    auto oldest = std::min_element(seen_.begin(), seen_.end(), [](const auto& a, const auto& b) {
      return a.second.last < b.second.last;
    });
    seen_.erase(oldest);
  }
  named_ = std::max(now, named_ + std::chrono::nanoseconds(1));
  Seen s{api::event_name(node_, named_), now, now, 1};
  seen_[key] = s;
  r.name = s.name;
  r.first = r.last = now;
  r.count = 1;
  action.kind = EventAction::Kind::Create;
  return action;
}

void EventCorrelator::forget(const std::string& name) {
  for (auto it = seen_.begin(); it != seen_.end(); ++it) {
    if (it->second.name == name) {
      seen_.erase(it);
      return;
    }
  }
}

}  // namespace kcd::daemon

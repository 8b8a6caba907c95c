// When to rotate a certificate: a uniformly random point of its lifetime, drawn once.
#pragma once

#include <chrono>
#include <functional>

namespace kcd::rotation {

using SysTime = std::chrono::system_clock::time_point;

// The fraction of a certificate's lifetime (from notBefore) inside which rotation happens.
struct RotationWindow {
  double from = 0.7;
  double to = 0.9;
};

// notBefore + lifetime * (from + u * (to - from)), u uniform in [0,1) from `uniform01`.
// Like kubelet's certificate manager, but the caller persists the result so that a restart
// does not draw again.
SysTime draw_rotation_deadline(SysTime not_before, SysTime not_after, RotationWindow window,
                               const std::function<double()>& uniform01);

}  // namespace kcd::rotation

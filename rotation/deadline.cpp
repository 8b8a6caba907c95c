#include "rotation/deadline.hpp"

#include <algorithm>
#include <cmath>

namespace kcd::rotation {

SysTime draw_rotation_deadline(SysTime not_before, SysTime not_after, RotationWindow window,
                               const std::function<double()>& uniform01) {
  if (not_after <= not_before) return not_before;
  const double from = std::clamp(window.from, 0.0, 1.0);
  const double to = std::clamp(window.to, from, 1.0);
  const double fraction = from + uniform01() * (to - from);
  const auto lifetime = std::chrono::duration_cast<std::chrono::milliseconds>(not_after - not_before);
  const auto offset =
      std::chrono::milliseconds(std::llround(static_cast<double>(lifetime.count()) * fraction));
  return not_before + std::chrono::duration_cast<SysTime::duration>(offset);
}

}  // namespace kcd::rotation

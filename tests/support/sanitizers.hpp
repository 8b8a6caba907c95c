// Whether this test binary was built with AddressSanitizer (the asan preset, which also has
// UBSan). Its runtimes need file descriptors and memory of their own: tests that starve the
// process of descriptors, or bound its memory tightly, say so and adapt.
#pragma once

namespace kcd::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif

}  // namespace kcd::testing

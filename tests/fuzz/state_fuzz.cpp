// Both state files: rotation state (certDir/kubelet-certd-state.json) and the kubelet change
// state (certDir/kubelet-certd-kubelet.json). Whatever parses serializes to text that parses; from
// there on the round trip is exact (same value, same text). The first serialization may drop what
// the daemon never reads (a filedAt without filed), so the value is compared from the second on.
#include "kubelet/change_state.hpp"
#include "rotation/state.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = kcd::fuzz::as_text(data, size);
  if (auto state = kcd::rotation::parse_state(text, "state.json")) {
    const std::string out = kcd::rotation::serialize_state(*state);
    auto again = kcd::rotation::parse_state(out, "state.json");
    KCD_FUZZ_CHECK(again.has_value(),
                   "serialized state does not parse: " + again.error().message + "\n" + out);
    const std::string out2 = kcd::rotation::serialize_state(*again);
    KCD_FUZZ_CHECK(out2 == out, "state serialization unstable:\n" + out + "\n" + out2);
    auto third = kcd::rotation::parse_state(out2, "state.json");
    KCD_FUZZ_CHECK(third.has_value() && *third == *again, "state round trip changes it:\n" + out);
  }
  if (auto change = kcd::kubelet::parse_change_state(text, "kubelet.json")) {
    const std::string out = kcd::kubelet::serialize_change_state(*change);
    auto again = kcd::kubelet::parse_change_state(out, "kubelet.json");
    KCD_FUZZ_CHECK(again.has_value(),
                   "serialized change state does not parse: " + again.error().message + "\n" + out);
    KCD_FUZZ_CHECK(*again == *change, "change state round trip changes it:\n" + out);
    KCD_FUZZ_CHECK(kcd::kubelet::serialize_change_state(*again) == out,
                   "change state serialization unstable");
  }
  return 0;
}

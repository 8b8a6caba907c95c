// The settings file (/etc/kubelet-certd/config.yaml): parse_settings must return a Settings or a
// positioned error for any text, and what it accepts must have every number in range.
#include "config/settings.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <cmath>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kcd::config::Environment env;
  env.host_name = [] { return std::string("fuzz-node"); };
  env.addresses = [] { return std::vector<std::string>{"192.0.2.10"}; };
  env.cwd = "/nonexistent-fuzz";
  auto settings = kcd::config::parse_settings(kcd::fuzz::as_text(data, size), "fuzz.yaml", env);
  if (!settings) {
    KCD_FUZZ_CHECK(!settings.error().message.empty(), "an error without a message");
    return 0;
  }
  const auto& s = *settings;
  KCD_FUZZ_CHECK(std::isfinite(s.rotation_window_from) && std::isfinite(s.rotation_window_to),
                 "rotation window not finite");
  KCD_FUZZ_CHECK(s.rotation_window_from >= 0 && s.rotation_window_from <= s.rotation_window_to &&
                     s.rotation_window_to <= 1,
                 "rotation window out of range");
  KCD_FUZZ_CHECK(s.csr_create_interval.count() > 0, "csrCreateInterval not positive");
  KCD_FUZZ_CHECK(s.keep_certificates >= 1, "keepCertificates below 1");
  KCD_FUZZ_CHECK(!kcd::config::node_name_problem(s.node_name), "invalid node name accepted: " + s.node_name);
  return 0;
}

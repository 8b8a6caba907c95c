#include "daemon/cluster_ca.hpp"

namespace kcd::daemon {

Expected<rotation::CaBundle> check_kubeconfig_ca(const config::Kubeconfig& kc,
                                                 std::chrono::system_clock::time_point now) {
  const std::string source =
      kc.ca_file ? kc.source.string() + " (certificate-authority " + kc.ca_file->string() + ")"
                 : kc.source.string() + " (certificate-authority-data)";
  return rotation::check_ca_bundle(kc.ca_pem, source, now);
}

}  // namespace kcd::daemon

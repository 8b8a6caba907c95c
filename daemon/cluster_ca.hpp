// The cluster CA on this node: only real CAs are trusted (every bundle read from a kubeconfig
// is checked before it is used or written), and the node follows the bundle the cluster
// publishes in kube-public/cluster-info through a CA rotation.
#pragma once

#include "base/expected.hpp"
#include "config/kubeconfig.hpp"
#include "rotation/ca_bundle.hpp"

#include <chrono>

namespace kcd::daemon {

// The kubeconfig's CA bundle (certificate-authority-data, or the file certificate-authority
// names), checked by rotation::check_ca_bundle at `now`; the error names the kubeconfig and
// the field.
Expected<rotation::CaBundle> check_kubeconfig_ca(const config::Kubeconfig& kc,
                                                 std::chrono::system_clock::time_point now);

}  // namespace kcd::daemon

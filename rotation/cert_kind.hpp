// The two certificates a kubelet has, and their file names in the kubelet's own layout.
#pragma once

#include <string_view>

namespace kcd::rotation {

enum class CertKind { Client, Serving };

constexpr std::string_view to_string(CertKind k) {
  return k == CertKind::Client ? "client" : "serving";
}

// kubelet's store prefix: kubelet-client-current.pem / kubelet-server-current.pem.
constexpr std::string_view file_prefix(CertKind k) {
  return k == CertKind::Client ? "kubelet-client" : "kubelet-server";
}

constexpr std::string_view signer_name(CertKind k) {
  return k == CertKind::Client ? "kubernetes.io/kube-apiserver-client-kubelet"
                               : "kubernetes.io/kubelet-serving";
}

}  // namespace kcd::rotation

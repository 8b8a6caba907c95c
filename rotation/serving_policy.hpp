// The strictest common serving-CSR approver rules (postfinance/kubelet-csr-approver), checked
// before filing so the operator learns why a CSR would be denied before it is.
#pragma once

#include "rotation/csr.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kcd::rotation {

// Every rule the request breaks, one sentence each (empty: an approver would accept it):
// at least one IP SAN; at most one DNS SAN, starting with the node name and resolving to
// addresses that include every IP SAN; expirationSeconds <= 367 days.
std::vector<std::string> check_serving_request(
    const std::string& node_name, const CsrRequest& request, std::optional<std::int64_t> expiration_seconds,
    const std::function<std::vector<std::string>(const std::string&)>& resolve);

}  // namespace kcd::rotation

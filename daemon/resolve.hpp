// Name resolution (getaddrinfo) of the API server's host. Blocking: called off the loop
// (daemon/off_loop.hpp), never on it.
#pragma once

#include "base/expected.hpp"

#include <string>
#include <vector>

namespace kcd::daemon {

// The addresses `host` (a name or an IP literal) resolves to, in inet_ntop form, without
// duplicates; an error with getaddrinfo's reason when it does not resolve.
Expected<std::vector<std::string>> lookup_addresses(const std::string& host);

}  // namespace kcd::daemon

// Name resolution (getaddrinfo): the serving pre-check (the effect behind
// AgentEffects::resolve) and the API server's host. Blocking: called off the loop
// (daemon/off_loop.hpp), never on it.
#pragma once

#include "base/expected.hpp"

#include <string>
#include <vector>

namespace kcd::daemon {

// The addresses `host` (a name or an IP literal) resolves to, in inet_ntop form, without
// duplicates; an error with getaddrinfo's reason when it does not resolve.
Expected<std::vector<std::string>> lookup_addresses(const std::string& host);

// The same, empty when the name does not resolve.
std::vector<std::string> resolve_host(const std::string& name);

}  // namespace kcd::daemon

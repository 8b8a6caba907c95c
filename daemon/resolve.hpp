// Name resolution for the serving pre-check (the effect behind AgentEffects::resolve).
#pragma once

#include <string>
#include <vector>

namespace kcd::daemon {

// getaddrinfo: the addresses a name resolves to, in inet_ntop form (empty when it does not).
std::vector<std::string> resolve_host(const std::string& name);

}  // namespace kcd::daemon

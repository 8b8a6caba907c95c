// Fault injection beyond the knobs each unit reads for itself: the failures that answer a
// request in place of its route (500, 429), and the runtime PUT /devapi/v1/faults endpoint.
#pragma once

#include "tests/devapi/server.hpp"
#include "tests/devapi/status.hpp"

#include <map>
#include <optional>
#include <string>

namespace kcd::devapi {

// The 500 or 429 due for this request, if any, counted in `counts` as "fault 5xx" or "fault 429".
std::optional<Reply> take_injected_failure(Faults& faults, std::map<std::string, int>& counts);

// GET or PUT /devapi/v1/faults, for an admin. A PUT replaces every knob at once; unlike
// Server::set_faults it does not cut open connections or wake silent watches: they see the
// new knobs at their next check.
Reply faults_endpoint(const Request& req, Faults& faults);

}  // namespace kcd::devapi

// Reads the journal (sd-journal): the last lines a unit logged, to show why a kubelet that was
// restarted after a change did not come back.
#pragma once

#include <string>
#include <vector>

namespace kcd::systemd {

// The last `count` messages of `unit` (oldest first), control characters escaped. Empty when
// the journal cannot be read.
std::vector<std::string> unit_journal_tail(const std::string& unit, int count);

}  // namespace kcd::systemd

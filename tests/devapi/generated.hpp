// What devapi makes up the way kube-apiserver does: UIDs, bootstrap tokens, generateName
// suffixes and timestamps.
#pragma once

#include <string>

namespace kcd::devapi {

std::string random_uuid();             // version 4, as metadata.uid and Audit-Id
std::string random_bootstrap_token();  // [a-z0-9]{6}.[a-z0-9]{16}
std::string random_name_suffix();      // the five characters generateName appends
std::string now_rfc3339();

}  // namespace kcd::devapi

// A unified diff of two texts (what `check --fix --dry-run` shows before changing the
// kubelet's config file). Pure; Myers' O((N+M)D) algorithm on lines.
#pragma once

#include <string>
#include <string_view>

namespace kcd::kubelet {

// "--- a/<name>\n+++ b/<name>\n@@ -l,n +l,n @@\n..." with 3 lines of context; "" when equal.
std::string unified_diff(std::string_view before, std::string_view after, const std::string& name);

}  // namespace kcd::kubelet

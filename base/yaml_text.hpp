// Scalars in the YAML files kubelet-certd writes (kubelet.conf, the kubelet's config file):
// written so that every reader reads the same string. Go's YAML (YAML 1.1, what the kubelet
// reads with) turns plain words such as yes, on, null, 0x1f or 1:20 into other types, and
// quotes, '#', ': ' or a newline change what a plain value means, so a value is written plain
// only when it cannot be read as anything else, and double-quoted by yaml-cpp's emitter
// (escapes included) otherwise.
#pragma once

#include <string>
#include <string_view>

namespace kcd {

// True when `value` reads back as this same string in plain style under YAML 1.1 and 1.2:
// only [A-Za-z0-9/._:+=-], starting with '/' or a letter, not ending in ':', not a YAML
// 1.1 boolean or null word (y, yes, on, off, true, null, ... in any case).
bool is_plain_yaml_safe(std::string_view value);

// `value` as a YAML scalar: plain when is_plain_yaml_safe, else double-quoted.
std::string yaml_scalar(std::string_view value);

}  // namespace kcd

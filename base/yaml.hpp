// The one way YAML from outside is loaded (settings, kubeconfigs, the kubelet's config file,
// kube-bench definitions): parsed by yaml-cpp, then refused when it costs more to walk than its
// size suggests. Every limit is checked in one pass that stops at the first one exceeded, so a
// hostile document (a billion laughs, 100,000 nested mappings) is refused in linear time.
#pragma once

#include "base/expected.hpp"

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace kcd {

struct YamlLimits {
  // A line longer than this is refused before parsing (a kubeconfig's base64 CA bundle is
  // the longest line we expect: a few hundred KiB).
  std::size_t max_line_bytes = 1u << 20;
  // Nodes as a walk sees them: an alias counts again each time it is expanded.
  std::size_t max_nodes = 1'000'000;
  // Mapping entries in the whole document (expanded the same way).
  std::size_t max_keys = 200'000;
  // Nested collections.
  int max_depth = 64;
};

// Parses `text` (the contents of `source`, named in every error) and checks it against `limits`.
// Errors are of `kind` (Config for files the operator writes, Corrupt for data we only read):
// "invalid YAML: <yaml-cpp's message>" at the line:column it names, or the limit exceeded at the
// line:column where it was, with the limit and how to fix it.
Expected<YAML::Node> load_yaml(std::string_view text, const std::string& source, ErrorKind kind,
                               const YamlLimits& limits = {});

// The tree checks of load_yaml alone, for a tree that did not come from load_yaml.
Expected<void> check_yaml_tree(const YAML::Node& root, const std::string& source, ErrorKind kind,
                               const YamlLimits& limits = {});

}  // namespace kcd

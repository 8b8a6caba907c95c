#include "base/yaml.hpp"

#include <optional>

namespace kcd {

namespace {

Location at(const std::string& source, const YAML::Mark& m) {
  return Location{source, m.line >= 0 ? m.line + 1 : 0, m.line >= 0 ? m.column + 1 : 0, ""};
}

// One walk over the tree as its readers see it (aliases expanded), stopping at the first limit.
class Walker {
 public:
  Walker(const YamlLimits& limits, const std::string& source, ErrorKind kind)
      : limits_(limits), source_(source), kind_(kind) {}

  bool walk(const YAML::Node& n, int depth) {
    if (++nodes_ > limits_.max_nodes) {
      return fail(n, "more than " + std::to_string(limits_.max_nodes) +
                         " YAML nodes, counting each use of an alias again: remove the aliases or shorten "
                         "the file");
    }
    if (!n.IsMap() && !n.IsSequence()) return true;
    if (depth >= limits_.max_depth) {
      return fail(
          n, "nested more than " + std::to_string(limits_.max_depth) + " levels deep: flatten the document");
    }
    if (n.IsSequence()) {
      for (const auto& child : n) {
        if (!walk(child, depth + 1)) return false;
      }
      return true;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (++keys_ > limits_.max_keys) {
        return fail(it->first, "more than " + std::to_string(limits_.max_keys) +
                                   " mapping keys, counting each use of an alias again: shorten the file");
      }
      if (!walk(it->first, depth + 1) || !walk(it->second, depth + 1)) return false;
    }
    return true;
  }

  std::optional<Error> problem;

 private:
  bool fail(const YAML::Node& n, std::string message) {
    problem = make_error(kind_, "over a limit: " + std::move(message), at(source_, n.Mark()));
    return false;
  }

  const YamlLimits& limits_;
  const std::string& source_;
  ErrorKind kind_;
  std::size_t nodes_ = 0;
  std::size_t keys_ = 0;
};

}  // namespace

Expected<void> check_yaml_tree(const YAML::Node& root, const std::string& source, ErrorKind kind,
                               const YamlLimits& limits) {
  Walker w(limits, source, kind);
  if (!w.walk(root, 0)) return Unexpected(std::move(*w.problem));
  return {};
}

Expected<YAML::Node> load_yaml(std::string_view text, const std::string& source, ErrorKind kind,
                               const YamlLimits& limits) {
  // Before parsing: yaml-cpp keeps a whole line (a scalar) in memory several times over.
  int line = 1;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    if (nl - start > limits.max_line_bytes) {
      return Unexpected(make_error(
          kind,
          "over a limit: a line longer than " + std::to_string(limits.max_line_bytes) + " bytes: shorten it",
          Location{source, line, static_cast<int>(limits.max_line_bytes) + 1, ""}));
    }
    start = nl + 1;
    ++line;
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    // ParserException, and DeepRecursion (yaml-cpp's own guard against deep nesting).
    return Unexpected(make_error(kind, "invalid YAML: " + e.msg, at(source, e.mark)));
  }
  if (auto checked = check_yaml_tree(root, source, kind, limits); !checked)
    return Unexpected(std::move(checked.error()));
  return root;
}

}  // namespace kcd

#include "kubelet/cis_definitions.hpp"

#include "base/regex_bounds.hpp"
#include "base/yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <array>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace kcd::kubelet {

extern const std::string_view kCisDefinitionsYaml;
extern const std::string_view kCisDefinitionsSource;

namespace {

constexpr std::array<std::pair<CisCompareOp, std::string_view>, 11> kOps = {{
    {CisCompareOp::Eq, "eq"},
    {CisCompareOp::NotEq, "noteq"},
    {CisCompareOp::Gt, "gt"},
    {CisCompareOp::Gte, "gte"},
    {CisCompareOp::Lt, "lt"},
    {CisCompareOp::Lte, "lte"},
    {CisCompareOp::Has, "has"},
    {CisCompareOp::NotHave, "nothave"},
    {CisCompareOp::Regex, "regex"},
    {CisCompareOp::ValidElements, "valid_elements"},
    {CisCompareOp::Bitmask, "bitmask"},
}};

std::string scalar(const YAML::Node& n) {
  return n && n.IsScalar() ? n.Scalar() : std::string();
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Reports problems at a node's position, naming the check and the field.
class DefinitionsParser {
 public:
  explicit DefinitionsParser(std::string_view source) : source_(source) {}

  Error at(const YAML::Node& node, const std::string& key, std::string message) const {
    Location where{source_, 0, 0, key};
    if (node) {
      const YAML::Mark m = node.Mark();
      if (m.line >= 0) {
        where.line = m.line + 1;
        where.column = m.column + 1;
      }
    }
    return make_error(ErrorKind::Corrupt, std::move(message), std::move(where));
  }

  Expected<bool> boolean(const YAML::Node& n, bool fallback, const std::string& key) const {
    if (!n) return fallback;
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
      return Unexpected(at(n, key, "\"" + scalar(n) + "\" is not a boolean"));
    }
    return v;
  }

  Expected<CisTestItem> test_item(const YAML::Node& i, const std::string& check) const {
    if (!i.IsMap()) return Unexpected(at(i, "check " + check + " test_items", "a test item is not a map"));
    CisTestItem item;
    item.flag = scalar(i["flag"]);
    if (const std::string path = scalar(i["path"]); !path.empty()) {
      item.path = parse_cis_jsonpath(path);
      if (!item.path) {
        return Unexpected(at(
            i["path"], "check " + check + " path",
            "unsupported JSONPath " + path + " (kubelet-certd reads {.a.b} and {range .a[:]}{}{','}{end})"));
      }
    }
    auto set = boolean(i["set"], true, "check " + check + " set");
    if (!set) return Unexpected(std::move(set).error());
    item.set = *set;
    if (const YAML::Node c = i["compare"]) {
      if (!c.IsMap()) return Unexpected(at(c, "check " + check + " compare", "not a map"));
      const std::string name = scalar(c["op"]);
      const auto op = parse_cis_compare_op(name);
      if (!op) {
        return Unexpected(at(c["op"] ? c["op"] : c, "check " + check + " compare.op",
                             "unknown compare op \"" + name + "\""));
      }
      item.compare = CisCompare{*op, scalar(c["value"])};
      if (*op == CisCompareOp::Regex) {
        // Bounded before std::regex sees it (base/regex_bounds.hpp).
        if (const std::string bad = regex_bounds_problem(item.compare->value); !bad.empty()) {
          return Unexpected(at(c["value"], "check " + check + " compare.value", "regular expression " + bad));
        }
        try {
          (void)std::regex(item.compare->value, kBoundedRegexFlags);
        } catch (const std::regex_error& e) {
          return Unexpected(at(c["value"], "check " + check + " compare.value",
                               "invalid regex \"" + item.compare->value + "\" (" + e.what() + ")"));
        }
      }
    }
    return item;
  }

  Expected<CisCheckDefinition> check_definition(const YAML::Node& c) const {
    if (!c.IsMap()) return Unexpected(at(c, "checks", "a check is not a map"));
    CisCheckDefinition d;
    d.id = scalar(c["id"]);
    if (d.id.empty()) return Unexpected(at(c, "id", "a check without id"));
    d.text = scalar(c["text"]);
    d.remediation = trim(scalar(c["remediation"]));
    auto scored = boolean(c["scored"], false, "check " + d.id + " scored");
    if (!scored) return Unexpected(std::move(scored).error());
    d.scored = *scored;

    const std::string audit = scalar(c["audit"]);
    if (audit.find("stat -c") != std::string::npos) {
      if (audit.find("permissions=%a") != std::string::npos) {
        d.audit = CisAudit::FilePermissions;
      } else if (audit.find("%U:%G") != std::string::npos) {
        d.audit = CisAudit::FileOwnership;
      } else {
        return Unexpected(at(c["audit"], "check " + d.id + " audit",
                             "a stat audit that prints neither permissions=%a nor %U:%G"));
      }
      if (audit.find("$kubeletkubeconfig") != std::string::npos) {
        d.file = CisFileRole::Kubeconfig;
      } else if (audit.find("CAFILE") != std::string::npos ||
                 audit.find("$kubeletcafile") != std::string::npos) {
        d.file = CisFileRole::ClientCa;
      } else if (audit.find("$kubeletconf") != std::string::npos) {
        d.file = CisFileRole::Config;
      }
    }
    d.audit_config = !scalar(c["audit_config"]).empty();

    if (const YAML::Node t = c["tests"]) {
      if (!t.IsMap() && !t.IsNull()) return Unexpected(at(t, "check " + d.id + " tests", "not a map"));
      if (const YAML::Node b = t["bin_op"]) {
        const std::string op = scalar(b);
        if (op == "or") {
          d.bin_op = CisBinOp::Or;
        } else if (op != "and" && !op.empty()) {
          return Unexpected(at(b, "check " + d.id + " bin_op", "unknown bin_op " + op + " (and, or)"));
        }
      }
      const YAML::Node items = t["test_items"];
      if (items && !items.IsSequence()) {
        return Unexpected(at(items, "check " + d.id + " test_items", "not a list"));
      }
      for (const auto& i : items) {
        auto item = test_item(i, d.id);
        if (!item) return Unexpected(std::move(item).error());
        d.items.push_back(std::move(*item));
      }
    }
    return d;
  }

  Expected<CisDefinitions> definitions(std::string_view yaml) const {
    auto loaded = load_yaml(yaml, source_, ErrorKind::Corrupt);
    if (!loaded) return Unexpected(std::move(loaded.error()));
    YAML::Node root = *loaded;
    CisDefinitions defs;
    defs.source = source_;
    if (!root.IsMap() || !root["groups"].IsSequence()) {
      return Unexpected(at(root, "groups", "no groups"));
    }
    for (const auto& g : root["groups"]) {
      if (!g.IsMap()) return Unexpected(at(g, "groups", "a group is not a map"));
      const YAML::Node checks = g["checks"];
      if (checks && !checks.IsSequence()) return Unexpected(at(checks, "checks", "not a list"));
      for (const auto& c : checks) {
        auto d = check_definition(c);
        if (!d) return Unexpected(std::move(d).error());
        defs.checks.push_back(std::move(*d));
      }
    }
    return defs;
  }

 private:
  std::string source_;
};

}  // namespace

std::string_view to_string(CisCompareOp op) {
  for (const auto& [o, name] : kOps) {
    if (o == op) return name;
  }
  return "?";
}

std::optional<CisCompareOp> parse_cis_compare_op(std::string_view op) {
  for (const auto& [o, name] : kOps) {
    if (name == op) return o;
  }
  return std::nullopt;
}

std::optional<CisJsonPath> parse_cis_jsonpath(std::string_view path) {
  static const std::regex simple(R"(^\{\.([A-Za-z0-9_.]+)\}$)");
  static const std::regex range(R"(^\{range \.([A-Za-z0-9_.]+)\[:\]\}\{\}\{'([^']*)'\}\{end\}$)");
  CisJsonPath p;
  p.text = std::string(path);
  std::smatch m;
  std::string dotted;
  if (std::regex_match(p.text, m, simple)) {
    dotted = m[1];
  } else if (std::regex_match(p.text, m, range)) {
    dotted = m[1];
    p.range = true;
    p.separator = m[2];
  } else {
    return std::nullopt;
  }
  std::stringstream ss(dotted);
  for (std::string key; std::getline(ss, key, '.');) {
    if (!key.empty()) p.keys.push_back(key);
  }
  return p;
}

Expected<CisDefinitions> parse_cis_definitions(std::string_view yaml, std::string_view source) {
  return DefinitionsParser(source).definitions(yaml);
}

const CisDefinitions& builtin_cis_definitions() {
  static const CisDefinitions defs = [] {
    auto d = parse_cis_definitions(kCisDefinitionsYaml, kCisDefinitionsSource);
    if (!d) throw std::logic_error("built-in CIS definitions: " + d.error().format());
    return std::move(*d);
  }();
  return defs;
}

}  // namespace kcd::kubelet

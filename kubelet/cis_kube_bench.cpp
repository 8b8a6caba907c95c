#include "kubelet/cis_kube_bench.hpp"

#include "base/regex_bounds.hpp"
#include "base/yaml.hpp"
#include "kubelet/kubelet_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace kcd::kubelet {

namespace fs = std::filesystem;

namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// ---- Go yaml.v2 scalar resolution, printed as k8s jsonpath prints the value ----

bool is_yaml11_bool(const std::string& s, bool& v) {
  static const std::set<std::string> t = {"y",  "Y",  "yes",  "Yes",  "YES", "on",
                                          "On", "ON", "true", "True", "TRUE"};
  static const std::set<std::string> f = {"n",   "N",   "no",    "No",    "NO",   "off",
                                          "Off", "OFF", "false", "False", "FALSE"};
  if (t.count(s)) return v = true, true;
  if (f.count(s)) return v = false, true;
  return false;
}

std::optional<long long> yaml11_int(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return std::nullopt;
  bool neg = false;
  std::size_t i = 0;
  if (s[0] == '-' || s[0] == '+') neg = s[0] == '-', i = 1;
  if (i >= s.size()) return std::nullopt;
  int base = 10;
  if (s.compare(i, 2, "0x") == 0)
    base = 16, i += 2;
  else if (s.compare(i, 2, "0b") == 0)
    base = 2, i += 2;
  else if (s.size() - i > 1 && s[i] == '0')
    base = 8, i += 1;
  // Go's ParseInt takes one sign, before the prefix; from_chars would take another after it
  // ("--5", "0x-5"), and negating its LLONG_MIN would overflow.
  if (i >= s.size() || s[i] == '-' || s[i] == '+') return std::nullopt;
  long long v = 0;
  const auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return neg ? -v : v;
}

// A text the float pattern accepted, as float64; nullopt when it overflows. strtod in the C
// locale: the process locale must not change what a '.' means.
std::optional<double> yaml11_float(const std::string& s) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", locale_t{});
  if (c_locale == locale_t{}) return std::nullopt;  // no locale object: the text as written
  const double d = strtod_l(s.c_str(), nullptr, c_locale);
  if (std::isinf(d)) return std::nullopt;
  return d;
}

std::string print_value(const YAML::Node& n) {
  if (!n || !n.IsDefined() || n.IsNull()) return "";
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (n.Tag() != "?") return s;  // quoted: a string as written
    bool b = false;
    if (s == "~" || s == "null" || s == "Null" || s == "NULL") return "";
    if (is_yaml11_bool(s, b)) return b ? "true" : "false";
    if (auto i = yaml11_int(s)) return std::to_string(*i);
    static const std::regex float_re(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
    if (std::regex_match(s, float_re)) {
      // yaml.v2 keeps a float that overflows float64 ("4e999") as the string it was; one that
      // underflows is 0 or a subnormal, as Go's ParseFloat gives it.
      if (auto d = yaml11_float(s)) {
        char buf[64];
        const auto r = std::to_chars(buf, buf + sizeof buf, *d);
        return std::string(buf, r.ptr);
      }
    }
    return s;
  }
  std::string out;
  if (n.IsSequence()) {
    out = "[";
    for (std::size_t i = 0; i < n.size(); ++i) out += (i ? " " : "") + print_value(n[i]);
    return out + "]";
  }
  std::map<std::string, std::string> sorted;
  for (const auto& kv : n) sorted[kv.first.Scalar()] = print_value(kv.second);
  out = "map[";
  bool first = true;
  for (const auto& [k, v] : sorted) out += (first ? "" : " ") + k + ":" + v, first = false;
  return out + "]";
}

YAML::Node walk(const YAML::Node& root, const std::vector<std::string>& keys) {
  YAML::Node cur = root;
  for (const auto& key : keys) {
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node next = cur[key];
    if (!next.IsDefined()) return next;
    cur.reset(next);
  }
  return cur;
}

// testItem.evaluate: a set item passes when found (and its compare holds), an unset one when
// not found.
CisItemOutcome evaluate(const CisTestItem& t, bool found, const std::string& value) {
  CisItemOutcome o;
  o.found = found;
  o.value = value;
  if (t.set) {
    o.result = found && t.compare ? cis_compare(t.compare->op, value, t.compare->value) : found;
  } else {
    o.result = !found;
  }
  return o;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

}  // namespace

std::string_view to_string(CisStatus s) {
  switch (s) {
    case CisStatus::Pass:
      return "PASS";
    case CisStatus::Fail:
      return "FAIL";
    case CisStatus::Warn:
      return "WARN";
  }
  return "WARN";
}

bool cis_compare(CisCompareOp op, const std::string& value, const std::string& want) {
  std::string lower = value;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool boolean = lower == "true" || lower == "false";
  switch (op) {
    case CisCompareOp::Eq:
      return boolean ? lower == want : value == want;
    case CisCompareOp::NotEq:
      return boolean ? lower != want : value != want;
    case CisCompareOp::Gt:
    case CisCompareOp::Gte:
    case CisCompareOp::Lt:
    case CisCompareOp::Lte: {
      auto to_int = [](std::string s, long long& out) {
        s = trim(s);
        if (!s.empty() && s[0] == '+') s.erase(0, 1);
        const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return !s.empty() && ec == std::errc() && p == s.data() + s.size();
      };
      long long a = 0, b = 0;
      if (!to_int(value, a) || !to_int(want, b)) return false;
      if (op == CisCompareOp::Gt) return a > b;
      if (op == CisCompareOp::Gte) return a >= b;
      if (op == CisCompareOp::Lt) return a < b;
      return a <= b;
    }
    case CisCompareOp::Has:
      return value.find(want) != std::string::npos;
    case CisCompareOp::NotHave:
      return value.find(want) == std::string::npos;
    case CisCompareOp::Regex:
      if (!regex_bounds_problem(want).empty()) return false;  // refused when the definitions are parsed
      try {
        return std::regex_search(value, std::regex(want, kBoundedRegexFlags));
      } catch (const std::regex_error&) {
        return false;  // refused when the definitions are parsed; kube-bench would panic
      }
    case CisCompareOp::ValidElements: {
      auto split = [](const std::string& s) {
        std::vector<std::string> out;
        std::string clean = trim(s);
        while (!clean.empty() && clean.back() == ',') clean.pop_back();
        if (clean.empty()) return out;
        std::stringstream ss(clean);
        for (std::string e; std::getline(ss, e, ',');) out.push_back(trim(e));
        return out;
      };
      const auto have = split(value), allowed = split(want);
      if (have.empty() && allowed.empty()) return true;
      if (have.empty() || allowed.empty()) return false;
      return std::all_of(have.begin(), have.end(), [&](const std::string& e) {
        return std::find(allowed.begin(), allowed.end(), e) != allowed.end();
      });
    }
    case CisCompareOp::Bitmask: {
      long long requested = 0, max = 0;
      const auto r1 = std::from_chars(value.data(), value.data() + value.size(), requested, 8);
      const auto r2 = std::from_chars(want.data(), want.data() + want.size(), max, 8);
      if (value.empty() || r1.ec != std::errc() || r1.ptr != value.data() + value.size()) return false;
      if (want.empty() || r2.ec != std::errc() || r2.ptr != want.data() + want.size()) return false;
      return (max & requested) == requested;
    }
  }
  return false;
}

bool cis_compare(std::string_view op, const std::string& value, const std::string& want) {
  const auto parsed = parse_cis_compare_op(op);
  return parsed && cis_compare(*parsed, value, want);
}

struct CisConfigDocument::Impl {
  YAML::Node root;
};

Expected<CisConfigDocument> CisConfigDocument::parse(const std::string& text, const std::string& file) {
  auto impl = std::make_shared<Impl>();
  if (text.size() > kMaxKubeletConfigBytes) {
    return Unexpected(make_error(
        ErrorKind::Corrupt, "over a limit: larger than " + std::to_string(kMaxKubeletConfigBytes) + " bytes",
        Location{file, 0, 0, ""}));
  }
  auto loaded = load_yaml(text, file, ErrorKind::Corrupt);
  if (!loaded) return Unexpected(std::move(loaded.error()));
  impl->root = *loaded;
  CisConfigDocument doc;
  doc.impl_ = std::move(impl);
  return doc;
}

std::string CisConfigDocument::value(const CisJsonPath& path) const {
  const YAML::Node node = walk(impl_->root, path.keys);
  if (!path.range) return print_value(node);
  std::string out;
  if (node.IsSequence()) {
    for (const auto& e : node) out += print_value(e) + path.separator;
  }
  return out;
}

std::optional<std::string> cis_jsonpath(const std::string& document, std::string_view path) {
  const auto doc = CisConfigDocument::parse(document, "");
  if (!doc) return std::nullopt;
  if (path.empty()) return std::string();
  const auto p = parse_cis_jsonpath(path);
  if (!p) return std::nullopt;
  return doc->value(*p);
}

CisItemOutcome cis_flag_item(const CisTestItem& t, const std::string& output) {
  if (output.empty() || t.flag.empty()) return evaluate(t, false, "");
  // kube-bench matches QuoteMeta(flag) + `(=|: *)*([^\s]*) *` leftmost-first. That is, without
  // compiling a pattern per check: the first occurrence of the flag, then as many "=" or ":"
  // followed by spaces as there are, then the value, up to the next white space (RE2's \s).
  const std::size_t at = output.find(t.flag);
  if (at == std::string::npos) return evaluate(t, false, "");
  std::size_t i = at + t.flag.size();
  for (;;) {
    if (i < output.size() && output[i] == '=') {
      ++i;
    } else if (i < output.size() && output[i] == ':') {
      for (++i; i < output.size() && output[i] == ' ';) ++i;
    } else {
      break;
    }
  }
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; };
  const std::size_t from = i;
  while (i < output.size() && !is_space(output[i])) ++i;
  std::string value = output.substr(from, i - from);
  if (value.empty()) value = t.flag.rfind("--", 0) == 0 ? std::string("true") : t.flag;
  return evaluate(t, true, value);
}

CisItemOutcome cis_path_item(const CisTestItem& t, const CisConfigDocument& config) {
  if (!t.path) return evaluate(t, false, "");
  const std::string v = config.value(*t.path);
  return evaluate(t, !v.empty(), v);
}

bool cis_combine(CisBinOp op, const std::vector<CisItemOutcome>& outcomes) {
  if (outcomes.empty()) return false;
  bool result = op != CisBinOp::Or;
  for (const auto& o : outcomes) result = op == CisBinOp::Or ? (result || o.result) : (result && o.result);
  return result;
}

CisStatus cis_verdict(bool passed, bool scored) {
  return passed ? CisStatus::Pass : (scored ? CisStatus::Fail : CisStatus::Warn);
}

std::string cis_stat_output(CisAudit audit, unsigned mode, const std::string& user,
                            const std::string& group) {
  if (audit == CisAudit::FilePermissions) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "permissions=%o", mode & 07777);
    return buf;
  }
  return user + ":" + group;
}

fs::path cis_kubelet_config(const KubeletCommandLine& cl, const fs::path& setting) {
  const KubeletFlag* f = cl.find("--config");
  return f ? fs::path(f->value) : setting;
}

fs::path cis_kubeconfig(const KubeletCommandLine& cl, const fs::path& setting) {
  const KubeletFlag* f = cl.find("--kubeconfig");
  return f ? fs::path(f->value) : setting;
}

fs::path cis_client_ca_file(const KubeletCommandLine& cl, const CisConfigDocument* config,
                            const fs::path& setting) {
  if (const KubeletFlag* f = cl.find("--client-ca-file")) return f->value;
  if (config) {
    static const CisJsonPath path = *parse_cis_jsonpath("{.authentication.x509.clientCAFile}");
    if (std::string v = config->value(path); !v.empty()) return v;
  }
  return setting;
}

fs::path cis_kubelet_service(const KubeletCommandLine& cl) {
  return cl.service_file ? *cl.service_file
                         : fs::path("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf");
}

std::string cis_remediation(const std::string& text, const CisVariables& v) {
  return replace_all(replace_all(replace_all(replace_all(text, "$kubeletsvc", v.kubeletsvc.string()),
                                             "$kubeletkubeconfig", v.kubeletkubeconfig.string()),
                                 "$kubeletconf", v.kubeletconf.string()),
                     "$kubeletcafile", v.kubeletcafile.string());
}

}  // namespace kcd::kubelet

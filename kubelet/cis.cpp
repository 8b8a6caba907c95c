#include "kubelet/cis.hpp"

#include <sys/stat.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <grp.h>
#include <map>
#include <pwd.h>
#include <regex>
#include <set>
#include <sstream>

namespace kcd::kubelet {

extern const std::string_view kCisDefinitionsYaml;

namespace fs = std::filesystem;

struct CisTestItem {
  std::string flag, path;
  bool set = true;  // kube-bench: `set` defaults to true
  std::string op, value;
};

struct CisCheckDefinition {
  std::string id, text, audit, audit_config, remediation, bin_op;
  bool scored = false;
  std::vector<CisTestItem> items;
};

CisDefinitions::CisDefinitions() = default;
CisDefinitions::~CisDefinitions() = default;
CisDefinitions::CisDefinitions(CisDefinitions&&) noexcept = default;
CisDefinitions& CisDefinitions::operator=(CisDefinitions&&) noexcept = default;

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

bool cis_check_in_scope(std::string_view id) {
  static const std::set<std::string, std::less<>> ids = {
      "4.1.5", "4.1.6", "4.1.7", "4.1.8", "4.1.9", "4.1.10", "4.2.1",  "4.2.2",  "4.2.3",  "4.2.4",
      "4.2.5", "4.2.6", "4.2.7", "4.2.8", "4.2.9", "4.2.10", "4.2.11", "4.2.12", "4.2.13", "4.2.14"};
  return ids.count(id) > 0;
}

namespace {

std::string scalar(const YAML::Node& n) {
  return n && n.IsScalar() ? n.Scalar() : std::string();
}

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
  long long v = 0;
  const auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return neg ? -v : v;
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
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, std::stod(s));
      return std::string(buf, r.ptr);
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

YAML::Node walk(const YAML::Node& root, const std::string& dotted) {
  YAML::Node cur = root;
  std::stringstream ss(dotted);
  for (std::string key; std::getline(ss, key, '.');) {
    if (key.empty()) continue;
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node next = cur[key];
    if (!next.IsDefined()) return next;
    cur.reset(next);
  }
  return cur;
}

// ---- the facts kube-bench's audit commands would print ----

std::string file_audit(const fs::path& root, const fs::path& file, const std::string& audit) {
  struct stat st {};
  const fs::path p = root / file.relative_path();
  if (file.empty() || ::stat(p.c_str(), &st) != 0) return "";
  if (audit.find("permissions=%a") != std::string::npos) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "permissions=%o", static_cast<unsigned>(st.st_mode & 07777));
    return buf;
  }
  std::string user = std::to_string(st.st_uid), grp = std::to_string(st.st_gid);
  if (const passwd* pw = ::getpwuid(st.st_uid)) user = pw->pw_name;
  if (const struct group* gr = ::getgrgid(st.st_gid)) grp = gr->gr_name;
  return user + ":" + grp;
}

struct ItemOutcome {
  bool result = false, found = false;
  std::string value;
};

ItemOutcome evaluate(const CisTestItem& t, bool found, const std::string& value, bool error) {
  ItemOutcome o;
  o.found = found;
  o.value = value;
  if (error) return o;
  if (t.set) {
    o.result = found && !t.op.empty() ? cis_compare(t.op, value, t.value) : found;
  } else {
    o.result = !found;
  }
  return o;
}

ItemOutcome eval_flag(const CisTestItem& t, const std::string& text) {
  if (text.empty() || t.flag.empty()) return evaluate(t, false, "", false);
  if (text.find(t.flag) == std::string::npos) return evaluate(t, false, "", false);
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  const std::regex re("(" + std::regex_replace(t.flag, special, "\\$&") + ")(=|: *)*([^\\s]*) *");
  std::smatch m;
  std::string value;
  if (std::regex_search(text, m, re)) {
    value = m[3].length() ? m[3].str() : (t.flag.rfind("--", 0) == 0 ? std::string("true") : m[1].str());
  }
  return evaluate(t, true, value, false);
}

ItemOutcome eval_path(const CisTestItem& t, const std::string& config) {
  const auto v = cis_jsonpath(config, t.path);
  if (!v) return evaluate(t, false, "", true);
  return evaluate(t, !v->empty(), *v, false);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

}  // namespace

bool cis_compare(std::string_view op, const std::string& value, const std::string& want) {
  std::string lower = value;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const bool boolean = lower == "true" || lower == "false";
  if (op == "eq") return boolean ? lower == want : value == want;
  if (op == "noteq") return boolean ? lower != want : value != want;
  if (op == "gt" || op == "gte" || op == "lt" || op == "lte") {
    auto to_int = [](std::string s, long long& out) {
      s = trim(s);
      if (!s.empty() && s[0] == '+') s.erase(0, 1);
      const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      return !s.empty() && ec == std::errc() && p == s.data() + s.size();
    };
    long long a = 0, b = 0;
    if (!to_int(value, a) || !to_int(want, b)) return false;
    if (op == "gt") return a > b;
    if (op == "gte") return a >= b;
    if (op == "lt") return a < b;
    return a <= b;
  }
  if (op == "has") return value.find(want) != std::string::npos;
  if (op == "nothave") return value.find(want) == std::string::npos;
  if (op == "regex") return std::regex_search(value, std::regex(want));
  if (op == "valid_elements") {
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
  if (op == "bitmask") {
    long long requested = 0, max = 0;
    const auto r1 = std::from_chars(value.data(), value.data() + value.size(), requested, 8);
    const auto r2 = std::from_chars(want.data(), want.data() + want.size(), max, 8);
    if (value.empty() || r1.ec != std::errc() || r1.ptr != value.data() + value.size()) return false;
    if (want.empty() || r2.ec != std::errc() || r2.ptr != want.data() + want.size()) return false;
    return (max & requested) == requested;
  }
  return false;
}

std::optional<std::string> cis_jsonpath(const std::string& document, std::string_view path) {
  YAML::Node root;
  try {
    root = YAML::Load(document);
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
  static const std::regex simple(R"(^\{\.([A-Za-z0-9_.]+)\}$)");
  static const std::regex range(R"(^\{range \.([A-Za-z0-9_.]+)\[:\]\}\{\}\{'([^']*)'\}\{end\}$)");
  const std::string p(path);
  std::smatch m;
  if (p.empty()) return std::string();
  if (std::regex_match(p, m, simple)) return print_value(walk(root, m[1]));
  if (std::regex_match(p, m, range)) {
    const YAML::Node seq = walk(root, m[1]);
    std::string out;
    if (seq.IsSequence()) {
      for (const auto& e : seq) out += print_value(e) + m[2].str();
    }
    return out;
  }
  return std::nullopt;
}

Expected<CisDefinitions, std::string> parse_cis_definitions(std::string_view yaml) {
  CisDefinitions defs;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Unexpected(std::string("CIS definitions: invalid YAML: ") + e.what());
  }
  if (!root["groups"].IsSequence()) return Unexpected(std::string("CIS definitions: no groups"));
  for (const auto& g : root["groups"]) {
    for (const auto& c : g["checks"]) {
      CisCheckDefinition d;
      d.id = scalar(c["id"]);
      d.text = scalar(c["text"]);
      d.audit = scalar(c["audit"]);
      d.audit_config = scalar(c["audit_config"]);
      d.remediation = trim(scalar(c["remediation"]));
      d.scored = c["scored"] && c["scored"].as<bool>(false);
      if (const auto& t = c["tests"]) {
        d.bin_op = scalar(t["bin_op"]);
        if (!d.bin_op.empty() && d.bin_op != "and" && d.bin_op != "or") {
          return Unexpected("CIS definitions: check " + d.id + ": unknown bin_op " + d.bin_op);
        }
        for (const auto& i : t["test_items"]) {
          CisTestItem item;
          item.flag = scalar(i["flag"]);
          item.path = scalar(i["path"]);
          if (i["set"]) item.set = i["set"].as<bool>(true);
          if (i["compare"]) {
            item.op = scalar(i["compare"]["op"]);
            item.value = scalar(i["compare"]["value"]);
          }
          if (!item.path.empty() && !cis_jsonpath("{}", item.path)) {
            return Unexpected("CIS definitions: check " + d.id + ": unsupported path " + item.path);
          }
          d.items.push_back(std::move(item));
        }
      }
      if (d.id.empty()) return Unexpected(std::string("CIS definitions: a check without id"));
      defs.checks.push_back(std::move(d));
    }
  }
  return defs;
}

const CisDefinitions& builtin_cis_definitions() {
  static const CisDefinitions defs = [] {
    auto d = parse_cis_definitions(kCisDefinitionsYaml);
    if (!d) throw std::runtime_error(d.error());
    return std::move(*d);
  }();
  return defs;
}

std::vector<CisResult> run_cis_checks(const CisInputs& in, const CisDefinitions& defs) {
  const KubeletCommandLine& cl = in.command_line;
  const auto flag_path = [&](const char* flag, const fs::path& fallback) {
    const KubeletFlag* f = cl.find(flag);
    return f ? fs::path(f->value) : fallback;
  };
  const fs::path conf = flag_path("--config", in.kubelet_config);
  const fs::path kubeconfig = flag_path("--kubeconfig", in.kubeconfig);

  std::optional<std::string> config_text;
  {
    std::ifstream f(in.root / conf.relative_path(), std::ios::binary);
    if (f) {
      std::ostringstream s;
      s << f.rdbuf();
      config_text = s.str();
    }
  }
  // kube-bench cannot read a config file that is not YAML/JSON either: every check that
  // reads it fails, and the evidence says where the file is broken.
  std::string config_problem = config_text ? "" : "kubelet config file " + conf.string() + " is missing";
  if (config_text) {
    try {
      (void)YAML::Load(*config_text);
    } catch (const YAML::ParserException& e) {
      config_problem = "kubelet config file " + conf.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                       std::to_string(e.mark.column + 1) + " is not valid YAML (" + e.msg + ")";
      config_text.reset();
    }
  }
  fs::path ca = in.client_ca_file;
  if (const KubeletFlag* f = cl.find("--client-ca-file")) {
    ca = f->value;
  } else if (config_text) {
    if (auto v = cis_jsonpath(*config_text, "{.authentication.x509.clientCAFile}"); v && !v->empty()) ca = *v;
  }
  const std::string svc =
      cl.service_file ? cl.service_file->string() : "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf";

  std::vector<CisResult> out;
  for (const auto& d : defs.checks) {
    if (!cis_check_in_scope(d.id)) continue;
    CisResult r;
    r.id = d.id;
    r.title = d.text;
    r.scored = d.scored;
    r.remediation = replace_all(replace_all(replace_all(replace_all(d.remediation, "$kubeletsvc", svc),
                                                        "$kubeletkubeconfig", kubeconfig.string()),
                                            "$kubeletconf", conf.string()),
                                "$kubeletcafile", ca.string());
    std::vector<std::string> evidence;
    std::vector<ItemOutcome> outcomes;
    bool error = false;

    const bool file_check = d.audit.find("stat -c") != std::string::npos;
    if (file_check) {
      fs::path target;
      if (d.audit.find("$kubeletkubeconfig") != std::string::npos)
        target = kubeconfig;
      else if (d.audit.find("CAFILE") != std::string::npos ||
               d.audit.find("$kubeletcafile") != std::string::npos)
        target = ca;
      else if (d.audit.find("$kubeletconf") != std::string::npos)
        target = conf;
      const std::string output = file_audit(in.root, target, d.audit);
      evidence.push_back(target.string() + ": " + (output.empty() ? std::string("missing") : output));
      for (const auto& t : d.items) outcomes.push_back(eval_flag(t, output));
      r.fixable = !output.empty();
    } else {
      const bool has_config = !d.audit_config.empty();
      if (has_config && !config_text) {
        error = true;  // kube-bench: `cat $kubeletconf` fails, the check fails
        evidence.push_back(config_problem);
      }
      bool decided_by_file = true;
      for (const auto& t : d.items) {
        ItemOutcome o = eval_flag(t, cl.text);
        if (o.found) {
          decided_by_file = false;
          std::string where;
          for (auto it = cl.flags.rbegin(); it != cl.flags.rend(); ++it) {
            if ((it->name + "=" + it->value).find(t.flag) != std::string::npos) {
              where = it->name + "=" + it->value + " (" + it->where + ")";
              break;
            }
          }
          evidence.push_back("kubelet flag " + (where.empty() ? t.flag + "=" + o.value : where));
        } else if (has_config && config_text) {
          o = eval_path(t, *config_text);
          evidence.push_back(t.path.empty() ? t.flag + " not on the command line"
                                            : (o.found ? t.path + " = " + o.value : t.path + " not set") +
                                                  " in " + conf.string());
        } else {
          evidence.push_back(t.flag + " not on the kubelet command line");
        }
        outcomes.push_back(o);
      }
      if (cl.origin.empty())
        evidence.push_back("no kubelet command line found (no running kubelet, no service files)");
      else
        evidence.push_back("command line from " + cl.origin);
      r.fixable = has_config && decided_by_file;
    }
    // De-duplicate (both items of an `or` often name the same path).
    std::vector<std::string> unique;
    for (auto& e : evidence) {
      if (std::find(unique.begin(), unique.end(), e) == unique.end()) unique.push_back(std::move(e));
    }
    for (std::size_t i = 0; i < unique.size(); ++i) r.evidence += (i ? "; " : "") + unique[i];

    bool result = d.bin_op == "or" ? false : true;
    for (const auto& o : outcomes) result = d.bin_op == "or" ? (result || o.result) : (result && o.result);
    if (outcomes.empty()) result = false;
    if (error) result = false;
    r.status = result ? CisStatus::Pass : (d.scored ? CisStatus::Fail : CisStatus::Warn);

    if (d.id == "4.2.10" || d.id == "4.2.11") {
      r.remediation +=
          "\nkubelet-certd rotates the kubelet's client and serving certificates itself; it removes "
          "rotateCertificates, "
          "serverTLSBootstrap and a false RotateKubeletServerCertificate gate from the config file (absent "
          "passes this "
          "check) so that two rotators never race on one store. Keep them off the kubelet's command line.";
    }
    if (r.fixable && r.status != CisStatus::Pass)
      r.remediation += "\n`kubelet-certd check --fix` applies this.";
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace kcd::kubelet

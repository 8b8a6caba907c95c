#include "kubelet/kubelet_config.hpp"

#include "base/yaml_text.hpp"
#include "kubelet/yaml_edit.hpp"

#include "base/yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <unordered_map>

namespace kcd::kubelet {

namespace {

// A value to set, and how to recognise that the document already has it.
struct Edit {
  KeyPath path;
  enum class Op { Set, SetList, Remove } op = Op::Set;
  std::string value;               // YAML text for Set
  std::vector<std::string> items;  // for SetList
  // When present: apply only if this says the current value fails (never touch a passing one).
  std::function<bool(const YAML::Node& current)> needed;
};

YAML::Node lookup(const YAML::Node& root, const KeyPath& path) {
  YAML::Node cur = root;
  for (const auto& k : path) {
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node next = cur[k];
    if (!next.IsDefined()) return next;
    cur.reset(next);
  }
  return cur;
}

std::string dotted(const KeyPath& p) {
  std::string out;
  for (std::size_t i = 0; i < p.size(); ++i) out += (i ? "." : "") + p[i];
  return out;
}

std::string scalar_or(const YAML::Node& n, const std::string& dflt) {
  return n.IsDefined() && n.IsScalar() ? n.Scalar() : dflt;
}

bool equal_nodes(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type()) {
    // null written as `key:` and as `{}`/absent are not the same: compare strictly.
    return false;
  }
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      return a.Scalar() == b.Scalar();
    case YAML::NodeType::Sequence:
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (!equal_nodes(a[i], b[i])) return false;
      }
      return true;
    case YAML::NodeType::Map: {
      if (a.size() != b.size()) return false;
      // yaml-cpp finds a key by a linear scan: index b once, so the compare stays linear.
      // The first of duplicate keys wins, as in yaml-cpp's own lookup.
      std::unordered_map<std::string, YAML::Node> index;
      index.reserve(b.size());
      for (auto it = b.begin(); it != b.end(); ++it) index.emplace(it->first.Scalar(), it->second);
      for (auto it = a.begin(); it != a.end(); ++it) {
        const auto found = index.find(it->first.Scalar());
        if (found == index.end() || !equal_nodes(it->second, found->second)) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

// Applies an edit to a parsed tree: the reference the patched text must read back as.
void apply_to_tree(YAML::Node& root, const Edit& e) {
  if (e.op == Edit::Op::Remove) {
    YAML::Node parent = root;
    for (std::size_t i = 0; i + 1 < e.path.size(); ++i) {
      if (!parent.IsMap() || !parent[e.path[i]].IsDefined()) return;
      parent.reset(parent[e.path[i]]);
    }
    if (parent.IsMap()) parent.remove(e.path.back());
    return;
  }
  YAML::Node cur = root;
  for (std::size_t i = 0; i + 1 < e.path.size(); ++i) {
    YAML::Node next = cur[e.path[i]];
    if (!next.IsDefined() || next.IsNull()) {
      cur[e.path[i]] = YAML::Node(YAML::NodeType::Map);
      next = cur[e.path[i]];
    }
    cur.reset(next);
  }
  if (e.op == Edit::Op::Set) {
    cur[e.path.back()] = YAML::Load(e.value);
  } else {
    YAML::Node seq(YAML::NodeType::Sequence);
    for (const auto& it : e.items) seq.push_back(YAML::Load(it));
    cur[e.path.back()] = seq;
  }
}

std::string describe(const YAML::Node& n) {
  if (!n.IsDefined()) return "(absent)";
  if (n.IsScalar()) return n.Scalar();
  if (n.IsNull()) return "null";
  YAML::Emitter e;
  e.SetMapFormat(YAML::Flow);
  e.SetSeqFormat(YAML::Flow);
  e << n;
  return e.c_str();
}

Error error_at(const std::filesystem::path& source, std::string message, int line = 0, int column = 0) {
  return config_error(Location{source.string(), line, column, ""}, std::move(message));
}

// Quotes a path when YAML would not read it back as the same plain string.
std::optional<std::string> refused_by(const KubeletConfigPatch& patch, const std::string& key) {
  auto it = patch.refused.find(key);
  if (it == patch.refused.end()) return std::nullopt;
  return it->second;
}

}  // namespace

const std::vector<std::string>& strong_cipher_suites() {
  static const std::vector<std::string> suites = {
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",  "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"};
  return suites;
}

Expected<PatchResult> patch_kubelet_config(std::string_view original, const KubeletConfigPatch& patch,
                                           const std::filesystem::path& source) {
  if (original.size() > patch.max_bytes) {
    return Unexpected(
        error_at(source, "over a limit: larger than " + std::to_string(patch.max_bytes) +
                             " bytes, which no kubelet config file is; the file was left untouched"));
  }
  std::string text(original);
  const bool fresh = text.find_first_not_of(" \t\r\n") == std::string::npos;
  if (fresh) text = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";

  auto loaded = load_yaml(text, source.string(), ErrorKind::Config);
  if (!loaded) {
    Error e = std::move(loaded.error());
    e.message += "; fix the file (it was left untouched)";
    return Unexpected(std::move(e));
  }
  YAML::Node before = *loaded;
  if (!before.IsMap())
    return Unexpected(error_at(source, "not a KubeletConfiguration (the document is not a mapping)"));
  const std::string kind = scalar_or(before["kind"], "");
  const std::string api = scalar_or(before["apiVersion"], "");
  if (kind != "KubeletConfiguration" || api != "kubelet.config.k8s.io/v1beta1") {
    return Unexpected(error_at(
        source, "kind \"" + kind + "\", apiVersion \"" + api +
                    "\": expected kind KubeletConfiguration, apiVersion kubelet.config.k8s.io/v1beta1"));
  }

  std::vector<Edit> edits;
  auto set = [&](KeyPath p, std::string v, std::function<bool(const YAML::Node&)> needed = {}) {
    edits.push_back(Edit{std::move(p), Edit::Op::Set, std::move(v), {}, std::move(needed)});
  };
  const auto differs = [](const std::string& want) {
    return [want](const YAML::Node& n) { return !n.IsDefined() || !n.IsScalar() || n.Scalar() != want; };
  };
  if (patch.tls_cert_file)
    set({"tlsCertFile"}, kcd::yaml_scalar(patch.tls_cert_file->string()),
        differs(patch.tls_cert_file->string()));
  if (patch.tls_private_key_file) {
    set({"tlsPrivateKeyFile"}, kcd::yaml_scalar(patch.tls_private_key_file->string()),
        differs(patch.tls_private_key_file->string()));
  }
  if (patch.client_ca_file) {
    set({"authentication", "x509", "clientCAFile"}, kcd::yaml_scalar(patch.client_ca_file->string()),
        differs(patch.client_ca_file->string()));
  }
  if (patch.hardening != Hardening::Off) {
    set({"authentication", "anonymous", "enabled"}, "false", differs("false"));
    set({"authentication", "webhook", "enabled"}, "true", differs("true"));
    set({"authorization", "mode"}, "Webhook", differs("Webhook"));
    set({"readOnlyPort"}, "0", differs("0"));
  }
  if (patch.hardening == Hardening::Cis) {
    edits.push_back(
        Edit{{"tlsCipherSuites"}, Edit::Op::SetList, {}, strong_cipher_suites(), [](const YAML::Node& n) {
               if (!n.IsDefined() || !n.IsSequence() || n.size() == 0) return true;
               for (const auto& s : n) {
                 const auto& ok = strong_cipher_suites();
                 if (!s.IsScalar() || std::find(ok.begin(), ok.end(), s.Scalar()) == ok.end()) return true;
               }
               return false;
             }});
    // Only failing values are changed (CIS 4.2.5, 4.2.6, 4.2.8); absent ones pass as they are.
    set({"makeIPTablesUtilChains"}, "true",
        [](const YAML::Node& n) { return n.IsDefined() && !(n.IsScalar() && n.Scalar() == "true"); });
    set({"eventRecordQPS"}, "50", [](const YAML::Node& n) {
      if (!n.IsDefined() || !n.IsScalar()) return false;
      try {
        return std::stod(n.Scalar()) < 0;
      } catch (...) {
        return true;
      }
    });
    set({"streamingConnectionIdleTimeout"}, "4h0m0s",
        [](const YAML::Node& n) { return n.IsDefined() && n.IsScalar() && n.Scalar() == "0"; });
    // CIS 4.2.13 and 4.2.14 pass when these are set; set them only when absent: an explicit
    // operator choice stays.
    set({"podPidsLimit"}, "4096", [](const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); });
    set({"seccompDefault"}, "true", [](const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); });
  }
  // kubelet-certd owns rotation: the kubelet's own rotators must not race on the same store.
  for (const char* key : {"rotateCertificates", "serverTLSBootstrap"}) {
    edits.push_back(Edit{{key}, Edit::Op::Remove, {}, {}, [](const YAML::Node& n) { return n.IsDefined(); }});
  }
  edits.push_back(Edit{
      {"featureGates", "RotateKubeletServerCertificate"}, Edit::Op::Remove, {}, {}, [](const YAML::Node& n) {
        return n.IsDefined() && n.IsScalar() && n.Scalar() == "false";
      }});

  // The gates the kubelet will run with: the file's featureGates, then its --feature-gates.
  FeatureGates gates;
  if (const YAML::Node fg = before["featureGates"]; fg.IsMap()) {
    for (auto it = fg.begin(); it != fg.end(); ++it) {
      const YAML::Node k = it->first;
      const YAML::Node v = it->second;
      if (k.IsScalar() && v.IsScalar() && (v.Scalar() == "true" || v.Scalar() == "false"))
        gates[k.Scalar()] = v.Scalar() == "true";
    }
  }
  for (const auto& [gate, on] : patch.flag_gates) gates[gate] = on;

  YamlText doc(text);
  std::vector<const Edit*> applied;  // applied to `before` afterwards: the document intended
  PatchResult result;
  for (const auto& e : edits) {
    const YAML::Node current = lookup(before, e.path);
    if (e.needed && !e.needed(current)) continue;
    if (e.op != Edit::Op::Remove) {
      // Removing a key returns it to the kubelet's default, which every version accepts; a
      // value is written only when this kubelet accepts it.
      const std::string key = dotted(e.path);
      const KeyRule* rule = find_key_rule(key);
      std::optional<std::string> why;
      if (rule == nullptr) {
        why = key + " is not in the version table (kubelet/key_rules.cpp)";
      } else if (auto r = refused_by(patch, key)) {
        why = *r;
      } else {
        why = refusal(*rule, patch.kubelet_version, gates);
      }
      if (why) {
        result.held_back.push_back(HeldKey{key, rule ? rule->cis : std::string(), *why});
        continue;
      }
    }
    if (e.op == Edit::Op::Remove) {
      auto r = doc.remove(e.path);
      if (!r)
        return Unexpected(
            error_at(source, r.error().message + "; the file was left untouched", r.error().where.line));
      if (!*r) continue;
      result.changes.push_back("removed " + dotted(e.path) + " (was " + describe(current) + ")");
      result.keys.push_back(dotted(e.path));
    } else {
      auto r = e.op == Edit::Op::Set ? doc.set(e.path, e.value) : doc.set_list(e.path, e.items);
      if (!r)
        return Unexpected(
            error_at(source, r.error().message + "; the file was left untouched", r.error().where.line));
      std::string now = e.value;
      if (e.op == Edit::Op::SetList) {
        now = "[";
        for (std::size_t i = 0; i < e.items.size(); ++i) now += (i ? ", " : "") + e.items[i];
        now += "]";
      }
      result.changes.push_back(dotted(e.path) + ": " + describe(current) + " -> " + now);
      result.keys.push_back(dotted(e.path));
    }
    applied.push_back(&e);
  }
  result.text = doc.text();
  result.changed = fresh || result.text != original;

  // The edit must read back as exactly the intended document, or nothing is written.
  auto reloaded = load_yaml(result.text, source.string(), ErrorKind::Config);
  if (!reloaded) {
    return Unexpected(error_at(source, "internal error: the patched text does not read back (" +
                                           reloaded.error().message + "); the file was left untouched"));
  }
  const YAML::Node after = *reloaded;
  for (const Edit* e : applied) apply_to_tree(before, *e);
  if (!equal_nodes(after, before)) {
    return Unexpected(error_at(
        source,
        "internal error: the patched text does not read back as intended; the file was left untouched"));
  }
  return result;
}

}  // namespace kcd::kubelet

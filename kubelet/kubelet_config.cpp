#include "kubelet/kubelet_config.hpp"

#include "base/outside_text.hpp"
#include "base/yaml_text.hpp"
#include "kubelet/yaml_edit.hpp"

#include "base/yaml.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <unordered_map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

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

// What the line-based editor cannot edit safely: the 1-based line and what is wrong. A scalar that
// continues on the next line (a plain value folded over lines, a quoted value not closed on its
// line) would be cut; a duplicate or non-scalar key makes "the key" ambiguous. Each node is
// visited once, however many aliases name it.
struct Unsafe {
  int line = 0;
  std::string what;
};
constexpr const char* kContinued =
    "a value continues on the next line (or a key has no ':'); write it on one line";

// Where each document of a YAML stream starts (the events themselves are not needed).
struct DocumentStarts : YAML::EventHandler {
  std::vector<YAML::Mark> marks;
  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
  }
  void OnMapEnd() override {}
};

// Whether `line` has a mapping colon (':' then a blank or the end) at or after `from`, the
// key's start, before any comment: a key quoted at `from` must be followed by it, and a '#'
// after a blank ends the line ("w #i: :" is the key "w" with no ':').
bool has_key_colon(std::string_view line, std::size_t from) {
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t i = from;
  if (i < line.size() && (line[i] == '"' || line[i] == '\'')) {
    const char q = line[i];
    for (++i; i < line.size(); ++i) {
      if (q == '"' && line[i] == '\\') {
        ++i;
      } else if (line[i] == q) {
        if (q == '\'' && i + 1 < line.size() && line[i + 1] == q) {
          ++i;
          continue;
        }
        break;
      }
    }
    // A quoted key is followed by its ':' (blanks between at most), or it has none.
    for (++i; i < line.size() && (line[i] == ' ' || line[i] == '\t');) ++i;
    return i < line.size() && line[i] == ':' &&
           (i + 1 == line.size() || line[i + 1] == ' ' || line[i + 1] == '\t');
  }
  for (; i < line.size(); ++i) {
    if (line[i] == '#' && i > from && (line[i - 1] == ' ' || line[i - 1] == '\t')) return false;
    if (line[i] == ':' && (i + 1 == line.size() || line[i + 1] == ' ' || line[i + 1] == '\t')) return true;
  }
  return false;
}

// A tag written in the file ("!!str", "!foo"): yaml-cpp reads tagged lines leniently (a tag
// holding ':' on a last line), and no kubelet config needs one. Untagged nodes say "?" (plain)
// or "!" (quoted).
constexpr const char* kBlockScalar =
    "a block scalar (| or >): a kubelet setting is one line; write the value on the key's line";
constexpr const char* kTabbed = "a tab in the indentation or before a key's ':'; use spaces";
constexpr const char* kTagged = "a YAML tag (!...) is not used in a kubelet config; remove it";
bool has_explicit_tag(const YAML::Node& n) {
  const std::string& t = n.Tag();
  return !t.empty() && t != "?" && t != "!";
}

std::optional<Unsafe> unsafe_node(const YAML::Node& n, const std::vector<std::string_view>& lines,
                                  std::set<std::pair<int, int>>& seen, std::set<std::pair<int, int>>& open) {
  const YAML::Mark m = n.Mark();
  if (!seen.insert({m.line, m.column}).second) return std::nullopt;
  if (has_explicit_tag(n)) return Unsafe{m.line + 1, kTagged};
  // "!" alone is the tag yaml-cpp also gives every quoted scalar: written, it is a tag.
  if (n.Tag() == "!" && m.line >= 0 && static_cast<std::size_t>(m.line) < lines.size()) {
    std::string_view at = lines[static_cast<std::size_t>(m.line)];
    at.remove_prefix(std::min(at.size(), static_cast<std::size_t>(m.column)));
    if (at.starts_with('&')) {  // an anchor first: "&a ! x"
      at.remove_prefix(std::min(at.size(), at.find_first_of(" \t")));
      at.remove_prefix(std::min(at.size(), at.find_first_not_of(" \t")));
    }
    if (at.starts_with('!')) return Unsafe{m.line + 1, kTagged};
  }
  if (n.IsScalar() && m.line >= 0 && static_cast<std::size_t>(m.line) < lines.size()) {
    std::string_view rest = lines[static_cast<std::size_t>(m.line)];
    if (static_cast<std::size_t>(m.column) > rest.size()) return std::nullopt;
    rest.remove_prefix(static_cast<std::size_t>(m.column));
    if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);
    // An anchor before the value ("&a value"): the value is what follows it, on this line, or
    // on a later one (found by the strict campaign: "&a" then '"x' on the next line).
    if (!rest.empty() && rest.front() == '&') {
      const auto blank = rest.find_first_of(" \t");
      rest = blank == std::string_view::npos ? std::string_view() : rest.substr(blank);
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      // (An anchored empty value is null, not a scalar: a scalar here is below, even "".)
      if (rest.empty() || rest.front() == '#') return Unsafe{m.line + 1, kContinued};
    }
    // A block scalar: what its text is depends on the lines that follow it (trailing blank
    // lines, the last line end), so a key added after it changes it (the strict campaign: 8
    // reports in 1.5 million executions). No kubelet setting is several lines long.
    if (!rest.empty() && (rest.front() == '|' || rest.front() == '>'))
      return Unsafe{m.line + 1, kBlockScalar};
    if (!rest.empty() && (rest.front() == '"' || rest.front() == '\'')) {
      // Quoted: closed on this line? ("" and '' inside single quotes, \x inside double quotes)
      const char q = rest.front();
      for (std::size_t i = 1; i < rest.size(); ++i) {
        if (q == '"' && rest[i] == '\\') {
          ++i;
        } else if (rest[i] == q) {
          if (q == '\'' && i + 1 < rest.size() && rest[i + 1] == q) {
            ++i;
            continue;
          }
          return std::nullopt;
        }
      }
      return Unsafe{m.line + 1, kContinued};
    }
    // Plain: the value folds what follows on the next lines into it.
    if (const auto hash = rest.find(" #"); hash != std::string_view::npos) rest = rest.substr(0, hash);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    const std::string& v = n.Scalar();
    // Folded lines join with a space; a blank line between them joins with a newline.
    if (!rest.empty() && v.size() > rest.size() && v.compare(0, rest.size(), rest) == 0 &&
        (v[rest.size()] == ' ' || v[rest.size()] == '\n'))
      return Unsafe{m.line + 1, kContinued};
    return std::nullopt;
  }
  if (n.IsMap()) {
    const bool flow =
        static_cast<std::size_t>(m.line) < lines.size() &&
        lines[static_cast<std::size_t>(m.line)].substr(static_cast<std::size_t>(m.column)).starts_with('{');
    std::set<std::string> keys;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Mark km = it->first.Mark();
      if (!it->first.IsScalar())
        return Unsafe{km.line + 1, "a key that is not a string; write keys as plain strings"};
      if (has_explicit_tag(it->first)) return Unsafe{km.line + 1, kTagged};
      if (!keys.insert(it->first.Scalar()).second)
        return Unsafe{km.line + 1, "key \"" + it->first.Scalar() + "\" is written twice; keep one"};
      // yaml-cpp reads a last line without ':' as a key; a key appended after it would not parse.
      const YAML::Mark k = it->first.Mark();
      if (!flow && k.line >= 0 && static_cast<std::size_t>(k.line) < lines.size() &&
          !has_key_colon(lines[static_cast<std::size_t>(k.line)], static_cast<std::size_t>(k.column)))
        return Unsafe{k.line + 1, kContinued};
      // A value on a later line no deeper than its key (yaml-cpp accepts it) is not in its block;
      // a deeper one is not on its key's line, where the editor writes a new value (found by the
      // strict campaign: "key:" then "  value" below).
      const YAML::Mark v = it->second.Mark();
      if (!flow && it->second.IsScalar() && v.line > k.line &&
          (v.column <= k.column || !it->second.Scalar().empty()))
        return Unsafe{v.line + 1, kContinued};
      // A null written out ("~", "null") below its key, too (the strict campaign): an empty
      // value's mark is also on a later line, at whatever comes next, so the text tells.
      if (!flow && it->second.IsNull() && v.line > k.line &&
          static_cast<std::size_t>(v.line) < lines.size()) {
        std::string_view at = lines[static_cast<std::size_t>(v.line)];
        at.remove_prefix(std::min(at.size(), static_cast<std::size_t>(v.column)));
        if (!at.empty() && at.back() == '\r') at.remove_suffix(1);
        const std::size_t end = std::min(at.size(), at.find_first_of(" \t"));
        const std::string_view token = at.substr(0, end), after = at.substr(end);
        const std::size_t more = after.find_first_not_of(" \t");
        if ((token == "~" || token == "null" || token == "Null" || token == "NULL") &&
            (more == std::string_view::npos || after[more] == '#'))
          return Unsafe{v.line + 1, kContinued};
      }
      if (open.count({v.line, v.column}) || (v.line == m.line && v.column == m.column))
        return Unsafe{km.line + 1,
                      "an alias refers to a mapping or list that contains it (a cycle); remove it"};
      open.insert({m.line, m.column});
      auto l = unsafe_node(it->second, lines, seen, open);
      open.erase({m.line, m.column});
      if (l) return l;
    }
  } else if (n.IsSequence()) {
    for (const auto& item : n) {
      const YAML::Mark im = item.Mark();
      if (open.count({im.line, im.column}) || (im.line == m.line && im.column == m.column))
        return Unsafe{m.line + 1,
                      "an alias refers to a mapping or list that contains it (a cycle); remove it"};
      open.insert({m.line, m.column});
      auto l = unsafe_node(item, lines, seen, open);
      open.erase({m.line, m.column});
      if (l) return l;
    }
  }
  return std::nullopt;
}

// Lines the line editor would read otherwise than yaml-cpp does (each found by the strict
// campaign). An anchor, an alias, a tag or an explicit key ("? ") where a key belongs: "&a key: v",
// "*a : v", an anchored or tagged mapping on a line of its own ("&a" or "!" then its keys),
// "? key": a key appended after "&a" read as part of that mapping, an anchor name may end in ':'.
// A tab in the indentation (also on a line of blanks) or before a key's ':'. None is needed in a
// kubelet config. The lines of a block scalar (after "key: |" or "key: >") are text and skipped.
std::optional<Unsafe> unsafe_line(const std::vector<std::string_view>& lines) {
  std::size_t block_indent = std::string_view::npos;  // of the line that opened a block scalar
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    const std::size_t first = l.find_first_not_of(' ');
    if (first == std::string_view::npos) continue;
    if (block_indent != std::string_view::npos && (first > block_indent || l[first] == '\t')) continue;
    block_indent = std::string_view::npos;
    const char c = l[first];
    // YAML forbids tabs in indentation, and yaml-cpp reads a line of blanks with a tab in it as
    // such once a key follows it (the strict campaign: "illegal tab when looking for indentation"
    // after an edit); a tab between a key and its ':' hides the key from the line editor.
    if (c == '\t') return Unsafe{static_cast<int>(i + 1), kTabbed};
    if (c == '#') continue;
    // A block scalar's indicator on a line of its own: a value below its key ("a: &x" then "|").
    if (c == '|' || c == '>') return Unsafe{static_cast<int>(i + 1), kContinued};
    if (c != '-' && c != '"' && c != '\'') {
      const std::size_t colon = l.find(':', first);
      if (colon != std::string_view::npos &&
          l.substr(first, colon - first).find('\t') != std::string_view::npos)
        return Unsafe{static_cast<int>(i + 1), kTabbed};
    }
    const bool spaced = first + 1 == l.size() || l[first + 1] == ' ' || l[first + 1] == '\t';
    if (c == '!') return Unsafe{static_cast<int>(i + 1), kTagged};  // "!" alone too: the document's own tag
    if (c == '&' || c == '*' || (c == '?' && spaced)) {
      return Unsafe{static_cast<int>(i + 1),
                    c == '?' ? "an explicit key (\"? \"); write the key plainly, as \"key: value\""
                             : std::string("an ") + (c == '&' ? "anchor" : "alias") +
                                   " where a key belongs; remove it and write the key plainly"};
    }
    // "key: |", "key: >-", "- |2": the lines below, deeper than this one, are the scalar's text.
    std::string_view rest = l.substr(0, std::min(l.size(), l.find(" #")));
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    while (!rest.empty() &&
           (rest.back() == '-' || rest.back() == '+' || (rest.back() >= '0' && rest.back() <= '9')))
      rest.remove_suffix(1);
    if (!rest.empty() && (rest.back() == '|' || rest.back() == '>') &&
        (rest.size() == first + 1 || rest.ends_with(" |") || rest.ends_with(" >") || rest.ends_with("\t|") ||
         rest.ends_with("\t>")))
      block_indent = first;
  }
  return std::nullopt;
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

  // A control character (a lone CR is a line break to YAML but not to the line-based editor).
  for (std::size_t i = 0, line = 1; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') ++line;
    if (c == '%' && (i == 0 || text[i - 1] == '\n')) {
      // A directive (%YAML, %TAG): yaml-cpp also reads a '%' line inside a document as one.
      return Unexpected(error_at(source,
                                 "a line starting with '%' (a YAML directive); remove it to let the file be "
                                 "patched (it was left untouched)",
                                 static_cast<int>(line)));
    }
    const bool crlf = c == '\r' && i + 1 < text.size() && text[i + 1] == '\n';
    if (c >= 0x80) {
      // UTF-8, as YAML and the kubelet require: yaml-cpp reads other bytes as some other text.
      const std::size_t n = kcd::utf8_sequence(text, i);
      if (n == 0) {
        return Unexpected(error_at(source,
                                   "not UTF-8; convert the file to UTF-8 to let it be patched (it was left "
                                   "untouched)",
                                   static_cast<int>(line)));
      }
      i += n - 1;
      continue;
    }
    if ((c < 0x20 && c != '\t' && c != '\n' && !crlf) || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", c);
      return Unexpected(error_at(source,
                                 std::string("control character ") + hex +
                                     "; remove it to let the file be patched (it was left untouched)",
                                 static_cast<int>(line)));
    }
  }

  // Mixed line ends: the editor writes one kind, which would change lines it does not edit.
  if (const std::size_t first = text.find('\n'); first != std::string::npos) {
    const bool crlf = first > 0 && text[first - 1] == '\r';
    for (std::size_t i = first, line = 1; i != std::string::npos; i = text.find('\n', i + 1), ++line) {
      if ((i > 0 && text[i - 1] == '\r') != crlf) {
        return Unexpected(error_at(source,
                                   std::string("line ends mixed: this line ends in ") +
                                       (crlf ? "LF" : "CRLF") + ", the first in " + (crlf ? "CRLF" : "LF") +
                                       "; use one kind to let the file be patched (it was left untouched)",
                                   static_cast<int>(line)));
      }
    }
  }

  auto loaded = load_yaml(text, source.string(), ErrorKind::Config);
  if (!loaded) {
    Error e = std::move(loaded.error());
    e.message += "; fix the file (it was left untouched)";
    return Unexpected(std::move(e));
  }
  YAML::Node before = *loaded;
  if (!before.IsMap())
    return Unexpected(error_at(source, "not a KubeletConfiguration (the document is not a mapping)"));
  {
    std::vector<std::string_view> lines;
    for (std::size_t start = 0; start <= text.size();) {
      const std::size_t nl = std::min(text.find('\n', start), text.size());
      lines.emplace_back(text.data() + start, nl - start);
      start = nl + 1;
    }
    // Top-level keys indented: yaml-cpp reads up to the first line indented less and ignores the rest.
    if (before.Mark().column > 0) {
      return Unexpected(error_at(source,
                                 "the top-level keys are indented; start them in the first column to let the "
                                 "file be patched (it was left untouched)",
                                 before.Mark().line + 1));
    }
    // One document: yaml-cpp's Load reads the first and the editor would edit whichever it finds.
    // (Not YAML::LoadAll: yaml-cpp 0.7's loops forever on some text after the first document.)
    try {
      std::istringstream in(text);
      YAML::Parser parser(in);
      DocumentStarts starts;
      if (parser.HandleNextDocument(starts) && parser.HandleNextDocument(starts) && starts.marks.size() > 1) {
        return Unexpected(
            error_at(source,
                     "more than one YAML document (the kubelet reads one); keep one to let the file be "
                     "patched (it was left untouched)",
                     starts.marks[1].line + 1));
      }
    } catch (const YAML::Exception& e) {
      // Load read the first document; what follows it does not parse.
      return Unexpected(error_at(source,
                                 "invalid YAML after the first document: " + e.msg +
                                     "; keep one document to let the file be patched (it was left untouched)",
                                 e.mark.line + 1, e.mark.column + 1));
    }
    std::set<std::pair<int, int>> seen, open;
    if (auto bad = unsafe_line(lines)) {
      return Unexpected(
          error_at(source, bad->what + " to let the file be patched (it was left untouched)", bad->line));
    }
    if (auto bad = unsafe_node(before, lines, seen, open)) {
      return Unexpected(
          error_at(source, bad->what + " to let the file be patched (it was left untouched)", bad->line));
    }
  }
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
      // Read as the kubelet's YAML reader reads a number: '_' dropped, hex, a sign, an exponent
      // all valid (an operator's 0x10 or 1_000 stays). Replaced: negative, past int32, or not a
      // number at all, to the last character ("5x" is not 5).
      std::string qps_text = n.Scalar();
      qps_text.erase(std::remove(qps_text.begin(), qps_text.end(), '_'), qps_text.end());
      static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", locale_t{});
      if (qps_text.empty() || c_locale == locale_t{}) return true;
      char* end = nullptr;
      const double qps = strtod_l(qps_text.c_str(), &end, c_locale);
      return end != qps_text.c_str() + qps_text.size() || !std::isfinite(qps) || qps < 0 || qps > INT32_MAX;
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
    // Every parent on the path is a mapping (or absent, or null) in the parsed document too: the
    // text editor sees a scalar written on the next line as a nested block.
    {
      YAML::Node parent = before;
      for (std::size_t i = 0; i + 1 < e.path.size() && parent.IsMap(); ++i) {
        const YAML::Node next = std::as_const(parent)[e.path[i]];
        if (!next.IsDefined() || next.IsNull()) break;
        if (!next.IsMap()) {
          return Unexpected(
              error_at(source,
                       dotted(KeyPath(e.path.begin(), e.path.begin() + static_cast<long>(i) + 1)) +
                           " is not a mapping, but a mapping is needed to set " + dotted(e.path) +
                           "; the file was left untouched",
                       next.Mark().line + 1));
        }
        parent.reset(next);
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

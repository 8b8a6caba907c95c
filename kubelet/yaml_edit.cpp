#include "kubelet/yaml_edit.hpp"

#include "base/yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <utility>

namespace kcd::kubelet {

namespace {

int indent_of(const std::string& line) {
  int n = 0;
  while (static_cast<std::size_t>(n) < line.size() && line[static_cast<std::size_t>(n)] == ' ') ++n;
  return n;
}

bool blank_or_comment(const std::string& line) {
  const auto first = line.find_first_not_of(" \t");
  return first == std::string::npos || line[first] == '#';
}

// "---" or "..." alone or followed by a blank; "...key: value" is a key.
bool is_document_marker(const std::string& line) {
  if (line.rfind("---", 0) != 0 && line.rfind("...", 0) != 0) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t';
}

bool is_sequence_item(const std::string& line, int indent) {
  const std::size_t i = static_cast<std::size_t>(indent);
  return i < line.size() && line[i] == '-' &&
         (i + 1 == line.size() || line[i + 1] == ' ' || line[i + 1] == '\t');
}

// End of a scalar or flow value starting at `pos`: before a comment or trailing spaces.
std::size_t value_end(const std::string& line, std::size_t pos) {
  if (pos >= line.size()) return pos;
  const char c = line[pos];
  std::size_t i = pos;
  if (c == '"' || c == '\'') {
    ++i;
    while (i < line.size()) {
      if (c == '"' && line[i] == '\\') {
        i += 2;
        continue;
      }
      if (line[i] == c) {
        if (c == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
          i += 2;
          continue;
        }
        return i + 1;
      }
      ++i;
    }
    return line.size();
  }
  if (c == '{' || c == '[') {
    int depth = 0;
    char quote = 0;
    for (; i < line.size(); ++i) {
      const char ch = line[i];
      if (quote) {
        if (ch == quote) quote = 0;
        continue;
      }
      if (ch == '"' || ch == '\'')
        quote = ch;
      else if (ch == '{' || ch == '[')
        ++depth;
      else if (ch == '}' || ch == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    return line.size();  // unbalanced on this line: a multi-line flow collection
  }
  std::size_t end = line.size();
  for (std::size_t k = pos; k < line.size(); ++k) {
    if (line[k] == '#' && k > pos && (line[k - 1] == ' ' || line[k - 1] == '\t')) {
      end = k;
      break;
    }
  }
  while (end > pos && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  return end;
}

std::string unquote_key(const std::string& k) {
  if (k.size() >= 2 && (k.front() == '"' || k.front() == '\'') && k.back() == k.front())
    return k.substr(1, k.size() - 2);
  return k;
}

std::string join(const KeyPath& p, std::size_t upto) {
  std::string out;
  for (std::size_t i = 0; i < upto && i < p.size(); ++i) out += (i ? "." : "") + p[i];
  return out;
}

}  // namespace

YamlText::YamlText(std::string_view text) {
  if (text.find("\r\n") != std::string_view::npos) eol_ = "\r\n";
  final_eol_ = text.empty() || text.back() == '\n';
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string line(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines_.push_back(std::move(line));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
}

std::string YamlText::text() const {
  std::string out;
  for (std::size_t i = 0; i < lines_.size(); ++i) {
    out += lines_[i];
    if (i + 1 < lines_.size() || final_eol_) out += eol_;
  }
  return out;
}

int YamlText::indent_unit() const {
  int unit = 0;
  int prev = -1;
  for (const auto& l : lines_) {
    if (blank_or_comment(l) || is_document_marker(l)) continue;
    const int in = indent_of(l);
    if (prev >= 0 && in > prev && (unit == 0 || in - prev < unit)) unit = in - prev;
    prev = in;
  }
  return unit > 0 ? unit : 2;
}

std::size_t YamlText::block_end(std::size_t key_line, int indent) const {
  std::size_t last = key_line;
  // Nothing after the ':' but a comment, or an anchor alone ("key: &a" then "- item" below: the
  // strict campaign found the items left behind when the value was set).
  const bool empty_value = [&] {
    const std::string& l = lines_[key_line];
    const auto colon = l.find(':', static_cast<std::size_t>(indent));
    if (colon == std::string::npos) return true;
    std::size_t v = l.find_first_not_of(" \t", colon + 1);
    if (v != std::string::npos && l[v] == '&') {
      v = l.find_first_of(" \t", v);  // the anchor's name runs to the next blank
      if (v != std::string::npos) v = l.find_first_not_of(" \t", v);
    }
    return v == std::string::npos || l[v] == '#';
  }();
  for (std::size_t i = key_line + 1; i < lines_.size(); ++i) {
    const std::string& l = lines_[i];
    if (is_document_marker(l)) break;
    if (blank_or_comment(l)) continue;
    const int in = indent_of(l);
    // Go's YAML writes block sequences at the key's own indentation ("key:\n- item").
    if (in > indent || (in == indent && empty_value && is_sequence_item(l, in))) {
      last = i;
      continue;
    }
    break;
  }
  return last + 1;
}

int YamlText::child_indent(std::size_t begin, std::size_t end) const {
  for (std::size_t i = begin; i < end; ++i) {
    if (!blank_or_comment(lines_[i]) && !is_document_marker(lines_[i])) return indent_of(lines_[i]);
  }
  return -1;
}

std::optional<YamlText::KeyLine> YamlText::key_line(std::size_t i, int indent) const {
  const std::string& l = lines_[i];
  if (blank_or_comment(l) || is_document_marker(l) || indent_of(l) != indent || is_sequence_item(l, indent))
    return std::nullopt;
  KeyLine k;
  k.line = i;
  k.indent = indent;
  std::size_t pos = static_cast<std::size_t>(indent);
  std::size_t colon;
  if (l[pos] == '"' || l[pos] == '\'') {
    const std::size_t close = value_end(l, pos);
    colon = l.find(':', close);
    k.key = unquote_key(l.substr(pos, close - pos));
  } else {
    colon = std::string::npos;
    for (std::size_t c = pos; c < l.size(); ++c) {
      if (l[c] == ':' && (c + 1 == l.size() || l[c + 1] == ' ' || l[c + 1] == '\t')) {
        colon = c;
        break;
      }
    }
    if (colon == std::string::npos) return std::nullopt;
    k.key = l.substr(pos, colon - pos);
    while (!k.key.empty() && k.key.back() == ' ') k.key.pop_back();
  }
  if (colon == std::string::npos) return std::nullopt;
  std::size_t v = colon + 1;
  while (v < l.size() && (l[v] == ' ' || l[v] == '\t')) ++v;
  k.value_begin = v;
  k.value_end = (v < l.size() && l[v] != '#') ? value_end(l, v) : v;
  return k;
}

YamlText::Found YamlText::find_in(std::size_t begin, std::size_t end, const std::string& key) const {
  Found f;
  const int ci = child_indent(begin, end);
  if (ci < 0) return f;
  // One pass, stopping at the first match: linear in the block, whatever its size.
  for (std::size_t i = begin; i < end; ++i) {
    auto k = key_line(i, ci);
    if (k && k->key == key) {
      f.found = true;
      f.key = std::move(*k);
      f.block_end = block_end(f.key.line, f.key.indent);
      return f;
    }
  }
  return f;
}

std::string YamlText::value_of(const KeyLine& k) const {
  return lines_[k.line].substr(k.value_begin, k.value_end - k.value_begin);
}

Expected<bool> YamlText::set_in_flow(const KeyLine& at, const KeyPath& rest, const std::string* value,
                                     const std::vector<std::string>* items, bool remove) {
  const std::string flow = value_of(at);
  if (flow.empty() || flow.front() != '{' || flow.back() != '}') {
    return Unexpected(
        config_error(Location{{}, static_cast<int>(at.line + 1), 0, {}},
                     "the flow mapping of \"" + at.key +
                         "\" spans several lines; write it in block style to let it be patched"));
  }
  auto loaded = load_yaml(flow, "", ErrorKind::Config);
  if (!loaded) {
    return Unexpected(
        config_error(Location{{}, static_cast<int>(at.line + 1), 0, {}}, std::move(loaded.error().message)));
  }
  YAML::Node node = *loaded;
  YAML::Node cur = node;
  for (std::size_t i = 0; i + 1 < rest.size(); ++i) {
    YAML::Node next = cur[rest[i]];
    if (next.IsDefined() && !next.IsNull() && !next.IsMap()) {
      return Unexpected(config_error(Location{{}, static_cast<int>(at.line + 1), 0, {}},
                                     "\"" + rest[i] + "\" is not a mapping"));
    }
    if (!next.IsDefined() || next.IsNull()) {
      if (remove) return false;
      cur[rest[i]] = YAML::Node(YAML::NodeType::Map);
      next = cur[rest[i]];
    }
    cur.reset(next);
  }
  if (remove) {
    if (!cur.IsMap() || !std::as_const(cur)[rest.back()].IsDefined()) return false;
    cur.remove(rest.back());
  } else if (value != nullptr) {
    cur[rest.back()] = YAML::Load(*value);
  } else {
    YAML::Node seq(YAML::NodeType::Sequence);
    for (const auto& it : *items) seq.push_back(YAML::Load(it));
    cur[rest.back()] = seq;
  }
  YAML::Emitter emitter;
  emitter.SetMapFormat(YAML::Flow);
  emitter.SetSeqFormat(YAML::Flow);
  emitter << node;
  std::string& line = lines_[at.line];
  line.replace(at.value_begin, at.value_end - at.value_begin, emitter.c_str());
  return true;
}

Expected<void> YamlText::set_impl(const KeyPath& path, const std::string* value,
                                  const std::vector<std::string>* items) {
  std::size_t begin = 0, end = lines_.size();
  std::optional<KeyLine> parent;
  const int unit = indent_unit();
  for (std::size_t i = 0; i < path.size(); ++i) {
    Found f = find_in(begin, end, path[i]);
    if (!f.found) {
      if (parent) {
        const std::string pv = value_of(*parent);
        if (!pv.empty() && pv.front() == '{') {
          auto r = set_in_flow(*parent, KeyPath(path.begin() + static_cast<long>(i), path.end()), value,
                               items, false);
          if (!r) return Unexpected(r.error());
          return {};
        }
        if (!pv.empty() && pv.front() != '#') {
          return Unexpected(config_error(
              Location{{}, static_cast<int>(parent->line + 1), 0, {}},
              join(path, i) + " has a value, but a mapping is needed to set " + join(path, path.size())));
        }
      }
      int ci = child_indent(begin, end);
      if (ci >= 0 && parent) {
        std::size_t first = begin;
        while (first < end && (blank_or_comment(lines_[first]) || is_document_marker(lines_[first]))) ++first;
        if (first < end && is_sequence_item(lines_[first], ci)) {
          return Unexpected(config_error(Location{{}, static_cast<int>(parent->line + 1), 0, {}},
                                         join(path, i) + " is a list, not a mapping"));
        }
      }
      if (ci < 0) ci = parent ? parent->indent + unit : 0;
      std::vector<std::string> fresh;
      for (std::size_t k = i; k < path.size(); ++k) {
        const std::string pad(static_cast<std::size_t>(ci + static_cast<int>(k - i) * unit), ' ');
        if (k + 1 < path.size()) {
          fresh.push_back(pad + path[k] + ":");
        } else if (value != nullptr) {
          fresh.push_back(pad + path[k] + ": " + *value);
        } else {
          fresh.push_back(pad + path[k] + ":");
          for (const auto& it : *items) fresh.push_back(pad + "- " + it);
        }
      }
      // Root-level keys go at the end of the document: before the first "..." that closes it
      // (with only blank lines, comments and more "..." after it: the strict campaign found a key
      // put between two of them, in a second document), else after the last line that is not blank.
      std::size_t at = end;
      if (!parent) {
        const auto is_end = [](const std::string& l) { return is_document_marker(l) && l[0] == '.'; };
        at = lines_.size();
        for (std::size_t k = lines_.size();
             k > 0 && (blank_or_comment(lines_[k - 1]) || is_end(lines_[k - 1])); --k) {
          if (is_end(lines_[k - 1])) at = k - 1;
        }
        while (at > 0 && (lines_[at - 1].empty() || is_end(lines_[at - 1]))) --at;
      }
      lines_.insert(lines_.begin() + static_cast<long>(at), fresh.begin(), fresh.end());
      return {};
    }
    const std::string v = value_of(f.key);
    if (i + 1 == path.size()) {
      std::string& line = lines_[f.key.line];
      // An anchor on the value ("key: &a value", "key: &a" then its block) stays on it.
      std::string anchor;
      std::string own = v;  // the value after its anchor
      if (!v.empty() && v.front() == '&') {
        const std::size_t blank = v.find_first_of(" \t");
        anchor = v.substr(0, blank) + " ";
        const std::size_t rest = blank == std::string::npos ? blank : v.find_first_not_of(" \t", blank);
        own = rest == std::string::npos ? std::string() : v.substr(rest);  // value_of trims, but never throw
      }
      if (value != nullptr) {
        if (!own.empty() && (own.front() == '|' || own.front() == '>')) {
          return Unexpected(
              config_error(Location{{}, static_cast<int>(f.key.line + 1), 0, {}},
                           join(path, path.size()) +
                               " is a block scalar; write it as a plain value to let it be patched"));
        }
        if (own.empty()) {
          // "key:" or "key: &a" (null or a nested block): the new value goes on the key line.
          std::string head = line.substr(0, f.key.value_begin);
          std::string tail = line.substr(f.key.value_end);  // "" or a comment
          while (!head.empty() && head.back() == ' ') head.pop_back();
          while (!tail.empty() && (tail.front() == ' ' || tail.front() == '\t')) tail.erase(0, 1);
          line = head + " " + anchor + *value + (tail.empty() ? "" : " " + tail);
          lines_.erase(lines_.begin() + static_cast<long>(f.key.line + 1),
                       lines_.begin() + static_cast<long>(f.block_end));
        } else {
          line.replace(f.key.value_begin, f.key.value_end - f.key.value_begin, anchor + *value);
        }
        return {};
      }
      // A list: keep the block style the document already uses for it.
      if (!own.empty() && own.front() == '[') {
        std::string flow = "[";
        for (std::size_t k = 0; k < items->size(); ++k) flow += (k ? ", " : "") + (*items)[k];
        flow += "]";
        line.replace(f.key.value_begin, f.key.value_end - f.key.value_begin, anchor + flow);
        return {};
      }
      int item_indent = f.key.indent;
      for (std::size_t k = f.key.line + 1; k < f.block_end; ++k) {
        if (!blank_or_comment(lines_[k])) {
          item_indent = indent_of(lines_[k]);
          break;
        }
      }
      if (f.key.value_begin != f.key.value_end) {
        std::string kept = anchor;  // "key: &a" stays anchored
        while (!kept.empty() && kept.back() == ' ') kept.pop_back();
        line = line.substr(0, f.key.value_begin) + kept + line.substr(f.key.value_end);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      lines_.erase(lines_.begin() + static_cast<long>(f.key.line + 1),
                   lines_.begin() + static_cast<long>(f.block_end));
      std::vector<std::string> fresh;
      for (const auto& it : *items)
        fresh.push_back(std::string(static_cast<std::size_t>(item_indent), ' ') + "- " + it);
      lines_.insert(lines_.begin() + static_cast<long>(f.key.line + 1), fresh.begin(), fresh.end());
      return {};
    }
    if (!v.empty() && v.front() == '{') {
      auto r = set_in_flow(f.key, KeyPath(path.begin() + static_cast<long>(i + 1), path.end()), value, items,
                           false);
      if (!r) return Unexpected(r.error());
      return {};
    }
    if (!v.empty() && v.front() != '&') {
      return Unexpected(config_error(Location{{}, static_cast<int>(f.key.line + 1), 0, {}},
                                     join(path, i + 1) + " is \"" + v +
                                         "\", but a mapping is needed to set " + join(path, path.size())));
    }
    parent = f.key;
    begin = f.key.line + 1;
    end = f.block_end;
  }
  return {};
}

Expected<void> YamlText::set(const KeyPath& path, const std::string& value) {
  return set_impl(path, &value, nullptr);
}

Expected<void> YamlText::set_list(const KeyPath& path, const std::vector<std::string>& items) {
  return set_impl(path, nullptr, &items);
}

Expected<bool> YamlText::remove(const KeyPath& path) {
  std::size_t begin = 0, end = lines_.size();
  std::optional<KeyLine> parent;
  for (std::size_t i = 0; i < path.size(); ++i) {
    Found f = find_in(begin, end, path[i]);
    if (!f.found) return false;
    if (i + 1 == path.size()) {
      // The last line had no line end and goes: the line before it keeps its own.
      if (f.block_end == lines_.size() && f.key.line > 0) final_eol_ = true;
      lines_.erase(lines_.begin() + static_cast<long>(f.key.line),
                   lines_.begin() + static_cast<long>(f.block_end));
      // A document left without entries is "{}" too: an empty one reads back as null, not as an
      // empty mapping (found by the strict campaign).
      if (!parent && std::all_of(lines_.begin(), lines_.end(), [](const std::string& l) {
            return blank_or_comment(l) || is_document_marker(l);
          })) {
        lines_.insert(lines_.begin() + static_cast<long>(f.key.line), "{}");
      }
      // A mapping left without entries is written "{}": a bare "key:" would read back as null.
      if (parent && block_end(parent->line, parent->indent) == parent->line + 1) {
        std::string& pl = lines_[parent->line];
        const std::string tail = pl.substr(parent->value_begin);
        std::string head = pl.substr(0, parent->value_begin);
        while (!head.empty() && head.back() == ' ') head.pop_back();
        pl = head + " {}" + (tail.empty() ? "" : " " + tail);
      }
      return true;
    }
    const std::string v = value_of(f.key);
    if (!v.empty() && v.front() == '{') {
      auto r = set_in_flow(f.key, KeyPath(path.begin() + static_cast<long>(i + 1), path.end()), nullptr,
                           nullptr, true);
      return r;
    }
    if (!v.empty()) return false;
    parent = f.key;
    begin = f.key.line + 1;
    end = f.block_end;
  }
  return false;
}

}  // namespace kcd::kubelet

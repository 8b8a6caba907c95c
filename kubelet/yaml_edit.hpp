// Text-preserving edits of a YAML document: set or remove a value at a key path while every
// other byte (comments, order, quoting, indentation, line endings) stays as it was.
#pragma once

#include "base/expected.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::kubelet {

using KeyPath = std::vector<std::string>;

// A YAML document edited as text. Block mappings are edited in place; a key inside a one-line
// flow mapping ({a: 1}) is edited by rewriting that flow mapping; what cannot be edited safely
// (multi-line flow collections, block scalars in the way, a scalar where a mapping is needed)
// is an error that names the line, and nothing is changed.
class YamlText {
 public:
  explicit YamlText(std::string_view text);

  // Sets `path` to `value` (YAML text for a scalar: "false", "0", "/a/b", "\"quoted\"").
  // Missing parents are created as block mappings.
  Expected<void> set(const KeyPath& path, const std::string& value);
  // Sets `path` to a sequence of scalars, in the document's block-sequence style.
  Expected<void> set_list(const KeyPath& path, const std::vector<std::string>& items);
  // Removes `path` (and anything nested under it). Returns false when it was not there.
  Expected<bool> remove(const KeyPath& path);

  std::string text() const;

 private:
  struct KeyLine {
    std::size_t line = 0;
    int indent = 0;
    std::size_t value_begin = 0;  // column of the value text (after ": ")
    std::size_t value_end = 0;    // column where the value ends (before a comment / trailing spaces)
    std::string key;
  };
  struct Found {
    bool found = false;
    KeyLine key;
    std::size_t block_end = 0;  // one past the last line of the value's block
  };

  std::optional<KeyLine> key_line(std::size_t line, int indent) const;  // a "key: value" line at indent
  Found find(const KeyPath& path, std::size_t depth, std::size_t* deepest) const;
  Found find_in(std::size_t begin, std::size_t end, const std::string& key) const;
  std::size_t block_end(std::size_t key_line, int indent) const;
  int child_indent(std::size_t begin, std::size_t end) const;
  int indent_unit() const;
  std::string value_of(const KeyLine& k) const;
  // False when `remove` found nothing to remove (the line is left as it was).
  Expected<bool> set_in_flow(const KeyLine& at, const KeyPath& rest, const std::string* value,
                             const std::vector<std::string>* items, bool remove);
  Expected<void> set_impl(const KeyPath& path, const std::string* value,
                          const std::vector<std::string>* items);

  std::vector<std::string> lines_;
  std::string eol_ = "\n";
  bool final_eol_ = true;
};

}  // namespace kcd::kubelet

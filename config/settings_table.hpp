// The settings table: one row per setting (key, flag, type, default, allowed values or range,
// description) with the parser that reads a raw value into its typed field of Settings. The
// loader (settings.cpp), --help, the README table, the man page and the packaged settings file
// (settings_doc.cpp) all read it. Private to config/.
#pragma once

#include "config/settings.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::config::detail {

// A raw value and where it was written (file, line, column, and the key or flag as written).
struct RawValue {
  std::string text;
  Location where;
};

struct ParseContext {
  bool from_flag = false;     // a relative path on the command line is resolved against cwd
  std::filesystem::path cwd;  // (in the file, a relative path is an error)
};

struct Setting {
  std::string key;   // in the file
  std::string flag;  // on the command line
  SettingType type;
  std::string description;
  // The default, written as a user would write it and read by `parse` like any other value
  // (nullopt: the default depends on the host or means "unset", as default_doc says).
  std::optional<std::string> default_value;
  std::string default_doc;
  std::string allowed;                       // the allowed values or range, for people
  std::vector<std::string> choices;          // Choice: the names, for the error and the did-you-mean
  bool list = false;                         // a YAML list in the file, a repeatable flag
  bool empty_turns_off = false;              // an empty value means "none" (metricsAddress, metricsTextfile)
  SettingScope scope = SettingScope::Agent;  // which command's flags it is
  // Reads `values` (one for a scalar, none for an empty value that turns the setting off, one
  // per item for a list) into the typed field. Errors are positioned at the offending value.
  std::function<Expected<void>(Settings&, const std::vector<RawValue>&, const ParseContext&)> parse;

  std::string default_text() const { return default_value ? *default_value : default_doc; }
};

const std::vector<Setting>& settings_table();
const Setting* find_setting(std::string_view key);

// What a flag's value is called in --help and the man page: PATH, N, DURATION, FROM%-TO%, ...
std::string metavar(const Setting& s);

std::string join(const std::vector<std::string>& items, std::string_view separator);
std::string in_quotes(std::string_view text);

}  // namespace kcd::config::detail

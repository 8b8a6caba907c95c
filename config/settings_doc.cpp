// The settings table written for people: the README's table, the man page's SETTINGS section
// and the packaged settings file. Each is generated, so none can disagree with the parser.
#include "config/settings_table.hpp"

namespace kcd::config {

using detail::join;
using detail::settings_table;

namespace {

// What a row's meaning says after its description: the allowed values or range.
std::string allowed_suffix(const detail::Setting& s) {
  switch (s.type) {
    case SettingType::Choice:
    case SettingType::Integer:
    case SettingType::Duration:
    case SettingType::PercentWindow:
    case SettingType::ListenAddress:
      return " (" + s.allowed + ")";
    case SettingType::CidrList:
      return " (CIDRs such as 10.0.0.0/8 or fd00::/64)";
    default:
      return "";
  }
}

// Text as roff reads it: backslashes and hyphens escaped, no control character at a line start.
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
  return out;
}

}  // namespace

std::string describe_settings_reference() {
  std::string out = "| key | flag | default | meaning |\n|---|---|---|---|\n";
  for (const auto& s : settings_table()) {
    std::string meaning = s.description + allowed_suffix(s);
    if (s.list) meaning += "; a YAML list in the file, the flag repeatable or comma-separated";
    out += "| `" + s.key + "` | `" + s.flag + "` | " + s.default_text() + " | " + meaning + " |\n";
  }
  out += "| (none) | `--config` | " + std::string(kDefaultConfigFile) +
         " | this file; a missing default file means all defaults |\n";
  return out;
}

std::string describe_settings_man() {
  std::string out =
      ".SH SETTINGS\n"
      "Each setting is a key of\n.I " +
      roff(kDefaultConfigFile) +
      "\nand a flag of\n"
      ".BR run ,\n.BR renew ,\n.BR status ,\n.B check\nand\n.BR check\\-config ;\n"
      "those whose meaning starts with approve: are flags of\n.B approve\ninstead.\n"
      "A flag wins over the file.\n";
  for (const auto& s : settings_table()) {
    out += ".TP\n\\fB" + roff(s.key) + "\\fR, \\fB" + roff(s.flag) + "\\fR";
    out += s.type == SettingType::Boolean ? "[=\\fItrue|false\\fR]"
                                          : " \\fI" + roff(detail::metavar(s)) + "\\fR";
    out += "\n" + roff(s.description) + ".\n";
    if (!s.allowed.empty()) out += ".br\nAllowed: " + roff(s.allowed) + ".\n";
    if (s.list) out += ".br\nA YAML list in the file; the flag is repeatable or comma\\-separated.\n";
    out += ".br\nDefault: " + roff(s.default_text()) + ".\n";
  }
  out += ".TP\n\\fB\\-\\-config\\fR \\fIPATH\\fR\nThe settings file. Default: " + roff(kDefaultConfigFile) +
         "; a missing default file means all defaults, a file named with\n.B \\-\\-config\nmust exist.\n";
  return out;
}

std::string render_man_page(std::string_view man_template, std::string_view version) {
  std::string out;
  std::size_t start = 0;
  while (start < man_template.size()) {
    std::size_t end = man_template.find('\n', start);
    if (end == std::string_view::npos) end = man_template.size();
    std::string line(man_template.substr(start, end - start));
    if (line == "@SETTINGS@") {
      out += describe_settings_man();
    } else {
      for (auto at = line.find("@VERSION@"); at != std::string::npos; at = line.find("@VERSION@"))
        line.replace(at, 9, version);
      out += line + "\n";
    }
    start = end + 1;
  }
  return out;
}

std::string describe_settings_file() {
  std::string out =
      "# " + std::string(kDefaultConfigFile) +
      ": kubelet-certd's settings (kubelet-certd(8), SETTINGS).\n"
      "# Every key is optional; the defaults suit a kubeadm node. A command-line flag of the same\n"
      "# name (see `kubelet-certd run --help`) wins over this file. Validate with\n"
      "# `kubelet-certd check-config`; apply with `systemctl reload kubelet-certd`.\n"
      "apiVersion: " +
      std::string(kApiVersion) + "\nkind: " + std::string(kKind) + "\n";
  for (const auto& s : settings_table()) {
    std::string line = "# " + s.key + ":";
    if (s.default_value) line += " " + *s.default_value;
    std::string note = s.default_value ? std::string() : "default: " + s.default_doc;
    if (!s.allowed.empty() && s.type != SettingType::Boolean && s.type != SettingType::NodeName)
      note += (note.empty() ? "" : "; ") + s.allowed;
    if (!note.empty()) {
      if (line.size() < 44) line.append(44 - line.size(), ' ');
      line += " # " + note;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace kcd::config

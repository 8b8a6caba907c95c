#include "systemd/kubelet.hpp"

#include <cstdio>
#include <filesystem>
#include <regex>

namespace kcd::systemd {

std::optional<Version> parse_kubelet_version(std::string_view text) {
  static const std::regex re(R"(v(\d+)\.(\d+))");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(text.begin(), text.end(), m, re)) return std::nullopt;
  return Version{std::stoi(m[1].str()), std::stoi(m[2].str())};
}

std::optional<Version> installed_kubelet_version() {
  for (const char* path : {"/usr/bin/kubelet", "/usr/local/bin/kubelet", "/opt/bin/kubelet"}) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    const std::string cmd = std::string(path) + " --version 2>/dev/null";
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) continue;
    char buf[256] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, p);
    ::pclose(p);
    if (auto v = parse_kubelet_version(std::string_view(buf, n))) return v;
  }
  return std::nullopt;
}

bool kubelet_restart_needed(std::string_view mode, std::optional<Version> version) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  return !version || *version < Version{1, 31};
}

}  // namespace kcd::systemd

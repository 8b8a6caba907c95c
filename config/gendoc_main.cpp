// kubelet-certd-gendoc: writes what the settings table documents, at build time and for
// maintainers. The build runs `man` and `settings-file` for the packages; `readme` rewrites the
// README's settings table in place (config_settings_test fails until it matches).
//   kubelet-certd-gendoc man TEMPLATE OUT        kubelet-certd(8) from packaging/doc/kubelet-certd.8.in
//   kubelet-certd-gendoc settings-file OUT       /etc/kubelet-certd/config.yaml as packaged
//   kubelet-certd-gendoc readme README.md        the table between the settings-table markers
#include "config/settings.hpp"

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

bool read(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

bool write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

int fail(const std::string& message) {
  std::cerr << "kubelet-certd-gendoc: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "man" && argc == 4) {
    std::string tmpl;
    if (!read(argv[2], tmpl)) return fail(std::string("cannot read ") + argv[2]);
    if (!write(argv[3], kcd::config::render_man_page(tmpl, KCD_VERSION)))
      return fail(std::string("cannot write ") + argv[3]);
    return 0;
  }
  if (mode == "settings-file" && argc == 3) {
    if (!write(argv[2], kcd::config::describe_settings_file()))
      return fail(std::string("cannot write ") + argv[2]);
    return 0;
  }
  if (mode == "readme" && argc == 3) {
    std::string readme;
    if (!read(argv[2], readme)) return fail(std::string("cannot read ") + argv[2]);
    const auto begin = readme.find("<!-- settings-table: generated");
    const auto start = begin == std::string::npos ? begin : readme.find('\n', begin);
    const auto end = start == std::string::npos ? start : readme.find("<!-- settings-table: end -->", start);
    if (end == std::string::npos) return fail("no settings-table markers in " + std::string(argv[2]));
    readme.replace(start + 1, end - start - 1, kcd::config::describe_settings_reference());
    if (!write(argv[2], readme)) return fail(std::string("cannot write ") + argv[2]);
    return 0;
  }
  std::cerr << "usage: kubelet-certd-gendoc man TEMPLATE OUT | settings-file OUT | readme README.md\n";
  return 2;
}

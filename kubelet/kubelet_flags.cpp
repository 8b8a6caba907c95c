#include "kubelet/kubelet_flags.hpp"
#include "base/files.hpp"

#include "kubelet/detect.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace kcd::kubelet {

namespace fs = std::filesystem;

namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string unquote(std::string s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
    return s.substr(1, s.size() - 2);
  return s;
}

fs::path under(const fs::path& root, const char* abs) {
  return root / fs::path(abs).relative_path();
}

// Words that are flags ("--x=y", "--x y" is not used by kubelet units) become KubeletFlags.
void add_flags(const std::vector<std::string>& words, const std::string& where,
               std::vector<KubeletFlag>& out) {
  for (const auto& w : words) {
    if (w.rfind("--", 0) != 0 || w.size() <= 2) continue;
    const auto eq = w.find('=');
    KubeletFlag f;
    f.name = w.substr(0, eq);
    f.value = eq == std::string::npos ? "true" : w.substr(eq + 1);
    f.where = where;
    out.push_back(std::move(f));
  }
}

// KEY=VALUE lines (EnvironmentFile syntax) and unit lines (Environment=, ExecStart=).
void read_file(const fs::path& file, const fs::path& root, KubeletCommandLine& cl,
               std::vector<KubeletFlag>& flags) {
  auto text = kcd::read_file(file, 1 << 20);  // regular files only, bounded: nothing planted blocks us
  if (!text) return;
  std::istringstream in(*text);
  const std::string shown = "/" + fs::relative(file, root).generic_string();
  cl.files.push_back(shown);
  const bool unit = file.extension() == ".conf" || file.extension() == ".service";
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
    const std::string where = shown + ":" + std::to_string(n);
    if (unit) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = trim(line.substr(0, eq));
      const std::string value = trim(line.substr(eq + 1));
      if (key == "ExecStart") {
        add_flags(split_words(value), where, flags);
      } else if (key == "Environment") {
        for (const auto& assignment : split_words(value)) {
          const auto e = assignment.find('=');
          if (e != std::string::npos) add_flags(split_words(assignment.substr(e + 1)), where, flags);
        }
      }
    } else {
      const auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      add_flags(split_words(unquote(trim(line.substr(eq + 1)))), where, flags);
    }
  }
}

}  // namespace

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  bool have = false;
  char quote = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < s.size()) {
        cur += s[++i];
      } else {
        cur += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (have) out.push_back(cur);
      cur.clear();
      have = false;
    } else if (c == '\\' && i + 1 < s.size()) {
      cur += s[++i];
      have = true;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) out.push_back(cur);
  return out;
}

const KubeletFlag* KubeletCommandLine::find(const std::string& name) const {
  for (auto it = flags.rbegin(); it != flags.rend(); ++it) {
    if (it->name == name) return &*it;
  }
  return nullptr;
}

std::string KubeletCommandLine::defined_in(const std::string& name) const {
  return find(name) ? find(name)->where : std::string();
}

KubeletCommandLine read_kubelet_command_line(const fs::path& root, pid_t main_pid) {
  KubeletCommandLine cl;
  // The unit first, then its drop-ins (sorted, /etc wins by coming last), then the
  // environment files in the order kubeadm's drop-in expands them.
  std::vector<KubeletFlag> file_flags;
  for (const char* unit : {"/lib/systemd/system/kubelet.service", "/usr/lib/systemd/system/kubelet.service",
                           "/etc/systemd/system/kubelet.service"}) {
    const fs::path p = under(root, unit);
    if (fs::exists(p)) {
      if (!cl.service_file) cl.service_file = fs::path(unit);
      read_file(p, root, cl, file_flags);
    }
  }
  for (const char* dir :
       {"/lib/systemd/system/kubelet.service.d", "/usr/lib/systemd/system/kubelet.service.d",
        "/etc/systemd/system/kubelet.service.d"}) {
    std::error_code ec;
    std::vector<fs::path> dropins;
    for (const auto& e : fs::directory_iterator(under(root, dir), ec)) {
      if (e.path().extension() == ".conf") dropins.push_back(e.path());
    }
    std::sort(dropins.begin(), dropins.end());
    for (const auto& p : dropins) {
      cl.service_file = fs::path(dir) / p.filename();  // kube-bench names the drop-in (10-kubeadm.conf)
      read_file(p, root, cl, file_flags);
    }
  }
  for (const char* env :
       {"/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet", "/etc/sysconfig/kubelet"}) {
    read_file(under(root, env), root, cl, file_flags);
  }

  if (auto running = find_running_kubelet(root, main_pid, &cl.ignored)) {
    const std::string pid = std::to_string(running->pid);
    const std::vector<std::string>* argv = &running->argv;
    cl.origin = "running kubelet (pid " + pid + ")";
    std::vector<std::string> args(argv->begin() + 1, argv->end());
    add_flags(args, "/proc/" + pid + "/cmdline", cl.flags);
    // Name the file each flag comes from, where one says so.
    for (auto& f : cl.flags) {
      for (auto it = file_flags.rbegin(); it != file_flags.rend(); ++it) {
        if (it->name == f.name && it->value == f.value) {
          f.where = it->where;
          break;
        }
      }
    }
    std::ostringstream text;
    for (std::size_t i = 0; i < argv->size(); ++i) text << (i ? " " : "") << (*argv)[i];
    cl.text = text.str();
    return cl;
  }
  if (!cl.files.empty()) {
    cl.origin = "service files";
    cl.flags = std::move(file_flags);
    cl.text = "kubelet";
    for (const auto& f : cl.flags) cl.text += " " + f.name + "=" + f.value;
  }
  return cl;
}

}  // namespace kcd::kubelet

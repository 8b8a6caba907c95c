#include "kubelet/detect.hpp"
#include "base/files.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

extern char** environ;

namespace kcd::kubelet {

namespace fs = std::filesystem;

namespace {

fs::path under(const fs::path& root, const fs::path& abs) {
  return root / abs.relative_path();
}

// Small files of /proc and units through the one bounded reader (regular files only, at most
// `limit` bytes); "" when unreadable.
std::string read_small(const fs::path& p, std::size_t limit = 1 << 20) {
  auto read = kcd::read_file(p, limit);
  return read ? std::move(*read) : std::string();
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool is_kubelet_argv(const std::vector<std::string>& argv) {
  if (argv.empty()) return false;
  const auto base = fs::path(argv[0]).filename().string();
  return base == "kubelet" || (base == "hyperkube" && argv.size() > 1 && argv[1] == "kubelet");
}

// "Uid:\t0\t0\t0\t0": real, effective, saved and filesystem uid must all be 0.
bool runs_as_root(const std::string& status) {
  const auto at = status.find("\nUid:");
  if (at == std::string::npos) return false;
  const auto end = status.find('\n', at + 1);
  std::string line = status.substr(at + 5, end == std::string::npos ? std::string::npos : end - at - 5);
  int fields = 0;
  std::size_t pos = 0;
  while (pos < line.size()) {
    pos = line.find_first_not_of(" \t", pos);
    if (pos == std::string::npos) break;
    const auto e = line.find_first_of(" \t", pos);
    if (line.substr(pos, e - pos) != "0") return false;
    ++fields;
    pos = e;
  }
  return fields == 4;
}

std::string describe_mode(const struct stat& st) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "owner uid %u, mode %o", static_cast<unsigned>(st.st_uid),
                static_cast<unsigned>(st.st_mode & 07777));
  return buf;
}

// Refused: what makes an executable unsafe to run as root ("not owned by root (...)").
Expected<void> trusted_stat(const struct stat& st) {
  auto refuse = [](std::string why) { return Unexpected(make_error(ErrorKind::Refused, std::move(why))); };
  if (!S_ISREG(st.st_mode)) return refuse("not a regular file");
  if (st.st_uid != 0) return refuse("not owned by root (" + describe_mode(st) + ")");
  if ((st.st_mode & 022) != 0) return refuse("writable by group or others (" + describe_mode(st) + ")");
  return {};
}

// The words of a unit's ExecStart= value, without systemd's prefixes (@-:+!).
std::optional<fs::path> program_of(const std::string& value) {
  std::string v = trim(value);
  std::size_t i = 0;
  while (i < v.size() && std::strchr("@-:+!", v[i]) != nullptr) ++i;
  v = v.substr(i);
  const auto end = v.find_first_of(" \t");
  std::string word = v.substr(0, end);
  if (word.size() >= 2 && (word.front() == '"' || word.front() == '\'') && word.back() == word.front()) {
    word = word.substr(1, word.size() - 2);
  }
  if (word.empty() || word.front() != '/' || word.find('$') != std::string::npos) return std::nullopt;
  return fs::path(word);
}

struct RunOutput {
  bool ran = false;
  std::string out;
  std::string error;
};

// posix_spawn (safe in a threaded process), stdout captured up to 4 KiB, 5 s deadline for the
// output and the exit together; `stop` kills the child at the next 100 ms slice.
RunOutput run_version(const fs::path& exe, bool hyperkube, const std::atomic<bool>* stop) {
  RunOutput r;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t dfl;
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGTERM);
  sigaddset(&dfl, SIGINT);
  sigaddset(&dfl, SIGHUP);
  sigaddset(&dfl, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string path = exe.string();
  std::string sub = "kubelet";
  std::string flag = "--version";
  std::vector<char*> argv = {path.data()};
  if (hyperkube) argv.push_back(sub.data());
  argv.push_back(flag.data());
  argv.push_back(nullptr);
  std::string env_path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::vector<char*> envp = {env_path.data(), nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, path.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    r.error = "cannot run " + path + " --version: " + std::strerror(rc);
    return r;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto stopped = [stop] { return stop != nullptr && stop->load(); };
  // Milliseconds to wait next: at most 100, so a stop is seen; 0 once the deadline passed.
  auto slice = [&deadline] {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    return static_cast<int>(std::clamp<long long>(left, 0, 100));
  };
  char buf[512];
  bool cut_short = false;
  while (true) {
    if (stopped() || slice() == 0) {
      cut_short = true;
      break;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    const int n = ::poll(&p, 1, slice());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (n == 0) continue;
    const ssize_t got = ::read(pipefd[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (r.out.size() < 4096) r.out.append(buf, static_cast<std::size_t>(got));
  }
  ::close(pipefd[0]);
  // Its output ended (or it closed stdout and lives on): it must exit within the same deadline.
  int status = 0;
  while (!cut_short) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) break;
    if (stopped() || slice() == 0) {
      cut_short = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(slice(), 10)));
  }
  if (cut_short) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    r.error =
        stopped() ? path + " --version: stopped (SIGTERM)" : path + " --version did not answer within 5 s";
    return r;
  }
  r.ran = true;
  return r;
}

}  // namespace

Expected<void> trusted_executable(const fs::path& binary) {
  struct stat st {};
  if (::stat(binary.c_str(), &st) != 0) {
    return Unexpected(make_error(ErrorKind::Io, std::string("cannot stat it: ") + std::strerror(errno)));
  }
  return trusted_stat(st);
}

std::optional<RunningKubelet> find_running_kubelet(const fs::path& root, pid_t main_pid,
                                                   std::vector<std::string>* ignored) {
  std::error_code ec;
  std::vector<pid_t> pids;
  for (const auto& entry : fs::directory_iterator(under(root, "/proc"), ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.size() > 9 || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pids.push_back(static_cast<pid_t>(std::stol(name)));
  }
  std::sort(pids.begin(), pids.end());
  for (pid_t pid : pids) {
    const fs::path dir = under(root, "/proc") / std::to_string(pid);
    const std::string cmdline = read_small(dir / "cmdline", 256 << 10);
    std::vector<std::string> argv;
    std::size_t start = 0;
    while (start < cmdline.size()) {
      auto end = cmdline.find('\0', start);
      if (end == std::string::npos) end = cmdline.size();
      argv.push_back(cmdline.substr(start, end - start));
      start = end + 1;
    }
    if (!is_kubelet_argv(argv)) continue;
    auto skip = [&](const std::string& why) {
      if (ignored) ignored->push_back("pid " + std::to_string(pid) + " (" + argv[0] + "): " + why);
    };
    if (!runs_as_root(read_small(dir / "status", 64 << 10))) {
      skip("does not run as root");
      continue;
    }
    if (main_pid > 0 && pid != main_pid) {
      skip("is not the kubelet unit's MainPID " + std::to_string(main_pid));
      continue;
    }
    struct stat st {};
    RunningKubelet k;
    k.pid = pid;
    if (::stat((dir / "exe").c_str(), &st) != 0) {
      // A sandboxed daemon without CAP_SYS_PTRACE may not follow /proc/<pid>/exe of a
      // process with more capabilities. systemd naming it as the unit's MainPID is then the
      // proof of identity; its binary is the unit's (see detect_kubelet).
      if ((errno != EACCES && errno != EPERM) || main_pid <= 0) {
        skip("its executable cannot be inspected (" + std::string(std::strerror(errno)) + ")");
        continue;
      }
      k.exe_hidden = true;
    } else if (auto trusted = trusted_stat(st); !trusted) {
      skip("its executable is " + trusted.error().message);
      continue;
    } else {
      k.exe = fs::read_symlink(dir / "exe", ec);
    }
    k.argv = std::move(argv);
    return k;
  }
  return std::nullopt;
}

std::optional<ExecStart> unit_exec_start(const fs::path& root, const std::string& unit) {
  if (unit.empty() || unit.find('/') != std::string::npos) return std::nullopt;
  // systemd's unit search path, highest precedence first.
  const std::vector<fs::path> dirs = {"/etc/systemd/system", "/run/systemd/system",
                                      "/usr/local/lib/systemd/system", "/usr/lib/systemd/system",
                                      "/lib/systemd/system"};
  std::optional<fs::path> unit_file;
  std::map<std::string, fs::path> dropins;  // by file name: the first (highest-precedence) wins
  std::error_code ec;
  for (const auto& d : dirs) {
    const fs::path f = under(root, d / unit);
    if (!unit_file && fs::is_regular_file(f, ec)) unit_file = d / unit;
    for (const auto& e : fs::directory_iterator(under(root, d / (unit + ".d")), ec)) {
      if (e.path().extension() == ".conf")
        dropins.emplace(e.path().filename().string(), d / (unit + ".d") / e.path().filename());
    }
  }
  if (!unit_file) return std::nullopt;
  std::vector<fs::path> files = {*unit_file};
  for (const auto& [name, p] : dropins) files.push_back(p);
  std::optional<ExecStart> result;
  for (const auto& f : files) {
    const std::string text = read_small(under(root, f));
    std::size_t pos = 0;
    int line_no = 0;
    while (pos < text.size()) {
      auto end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      const std::string line = trim(text.substr(pos, end - pos));
      pos = end + 1;
      ++line_no;
      if (line.rfind("ExecStart", 0) != 0) continue;
      const auto eq = line.find('=');
      if (eq == std::string::npos || trim(line.substr(0, eq)) != "ExecStart") continue;
      const std::string value = trim(line.substr(eq + 1));
      if (value.empty()) {
        result.reset();  // "ExecStart=" resets the list (kubeadm's drop-in does this)
        continue;
      }
      if (auto program = program_of(value)) {
        result = ExecStart{*program, f.string() + ":" + std::to_string(line_no)};
      } else {
        result.reset();
      }
    }
  }
  return result;
}

std::string KubeletBinary::describe() const {
  std::string out = version ? "v" + version->to_string() : std::string("unknown version");
  out += " (" + (source.empty() ? std::string("no kubelet found") : source);
  if (path) out += ", " + path->string();
  out += ")";
  return out;
}

KubeletBinary detect_kubelet(const DetectOptions& o) {
  KubeletBinary k;
  bool hyperkube = false;
  if (o.kubelet_path) {
    k.path = *o.kubelet_path;
    k.source = "kubeletPath";
  } else if (auto running = find_running_kubelet(o.root, o.main_pid, &k.ignored);
             running && !running->exe_hidden) {
    // The running process's own executable, even if the file on disk was replaced since.
    k.path = under(o.root, "/proc") / std::to_string(running->pid) / "exe";
    k.source = "running kubelet (pid " + std::to_string(running->pid) + ", " + running->exe.string() + ")";
    hyperkube = fs::path(running->argv[0]).filename() == "hyperkube";
  } else if (auto exec = unit_exec_start(o.root, o.unit); running && exec) {
    // The unit's MainPID, whose /proc/<pid>/exe our sandbox may not follow: the unit's program.
    k.path = under(o.root, exec->binary);
    k.source = "running kubelet (pid " + std::to_string(running->pid) + ", MainPID of " + o.unit +
               ", binary from ExecStart= " + exec->where + ")";
    hyperkube = exec->binary.filename() == "hyperkube";
  } else if (exec) {
    k.path = under(o.root, exec->binary);
    k.source = "ExecStart= of " + o.unit + " (" + exec->where + ")";
    hyperkube = exec->binary.filename() == "hyperkube";
  } else {
    k.problem =
        "no kubelet found: none running as root, and " + o.unit + " has no ExecStart= with an absolute path";
    return k;
  }
  if (auto trusted = trusted_executable(*k.path); !trusted) {
    k.problem = k.path->string() + " (" + k.source + ") is not run: it is " + trusted.error().message;
    return k;
  }
  const RunOutput out = run_version(*k.path, hyperkube, o.stop);
  if (!out.ran) {
    k.problem = out.error;
    return k;
  }
  k.version_text = trim(out.out);
  if (k.version_text.size() > 200) k.version_text.resize(200);
  k.version = parse_version(k.version_text);
  if (!k.version)
    k.problem = k.path->string() + " --version answered \"" + k.version_text + "\", not a kubelet version";
  return k;
}

}  // namespace kcd::kubelet

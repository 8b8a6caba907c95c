#include "tests/support/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace kcd::testing {

namespace fs = std::filesystem;

namespace {
std::atomic<int> g_counter{0};

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}
}  // namespace

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Subprocess::Subprocess(std::vector<std::string> argv, fs::path log_dir,
                       std::map<std::string, std::string> extra_env) {
  fs::create_directories(log_dir);
  const int n = g_counter.fetch_add(1);
  const std::string base =
      fs::path(argv.at(0)).filename().string() + "-" + std::to_string(::getpid()) + "-" + std::to_string(n);
  out_path_ = log_dir / (base + ".out");
  err_path_ = log_dir / (base + ".err");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);

  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos && extra_env.count(entry.substr(0, eq))) continue;
    env_storage.push_back(entry);
  }
  for (const auto& [k, v] : extra_env) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  pid_ = pid;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
}

std::optional<int> Subprocess::wait_for(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    struct rusage usage {};
    pid_t r = ::wait4(pid_, &st, WNOHANG, &usage);
    if (r == pid_) {
      max_rss_kib_ = usage.ru_maxrss;
      status_ = decode(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool Subprocess::running() {
  return !wait_for(std::chrono::milliseconds(0)).has_value();
}

void Subprocess::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::string Subprocess::out() const {
  return read_text(out_path_);
}
std::string Subprocess::err() const {
  return read_text(err_path_);
}

RunOutput run_process(std::vector<std::string> argv, const fs::path& log_dir,
                      std::chrono::milliseconds timeout, std::map<std::string, std::string> extra_env) {
  Subprocess p(std::move(argv), log_dir, std::move(extra_env));
  RunOutput out;
  auto code = p.wait_for(timeout);
  if (!code) {
    p.signal(SIGKILL);
    p.wait_for(std::chrono::seconds(5));
  }
  out.exit_code = code.value_or(-1);
  out.out = p.out();
  out.err = p.err();
  return out;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/kcd-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace kcd::testing

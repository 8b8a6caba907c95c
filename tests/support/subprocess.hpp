// Runs a program as a child process for integration tests: argv, environment additions,
// stdout/stderr captured to files, wait with a deadline, signals.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kcd::testing {

class Subprocess {
 public:
  // Starts argv[0] with argv; stdout and stderr go to files in `log_dir` (created if needed).
  Subprocess(std::vector<std::string> argv, std::filesystem::path log_dir,
             std::map<std::string, std::string> extra_env = {});
  ~Subprocess();  // SIGKILLs and reaps a child still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  int pid() const { return pid_; }
  // Exit code, or 128+signal when killed by a signal; nullopt when still running at the deadline.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  bool running();
  void signal(int sig);

  // Peak resident set size of the exited child in KiB (from wait4's rusage); 0 before exit.
  long max_rss_kib() const { return max_rss_kib_; }

  std::string out() const;  // everything written to stdout so far
  std::string err() const;  // everything written to stderr so far

 private:
  int pid_ = -1;
  std::optional<int> status_;
  long max_rss_kib_ = 0;
  std::filesystem::path out_path_, err_path_;
};

struct RunOutput {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs to completion (SIGKILL after `timeout`, reported as exit code -1).
RunOutput run_process(std::vector<std::string> argv, const std::filesystem::path& log_dir,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60),
                      std::map<std::string, std::string> extra_env = {});

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::string read_text(const std::filesystem::path& path);

}  // namespace kcd::testing

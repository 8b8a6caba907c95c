#include "base/trace.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>

namespace kcd::trace {

namespace {

// The trace file, opened at the first mark; -1 when tracing is off.
int trace_fd() {
  static const int fd = [] {
    const char* path = std::getenv("KCD_TRACE");
    if (path == nullptr || *path == '\0') return -1;
    return ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  }();
  return fd;
}

}  // namespace

bool enabled() {
  return trace_fd() >= 0;
}

void mark(std::string_view phase) {
  const int fd = trace_fd();
  if (fd < 0) return;
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  char line[96];
  const long long ns = static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
  const int n = std::snprintf(line, sizeof line, "%.*s %lld\n",
                              static_cast<int>(std::min<std::size_t>(phase.size(), 48)), phase.data(), ns);
  // One write per line: O_APPEND keeps lines whole even from two threads.
  if (n > 0) (void)!::write(fd, line, static_cast<std::size_t>(n));
}

}  // namespace kcd::trace

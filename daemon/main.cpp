// kubelet-certd: wires the libraries together; all behaviour lives in them.
#include "base/trace.hpp"
#include "daemon/cli.hpp"

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  // Expected failures are values (kcd::Error) all the way up to the command; an exception here
  // is a bug or an exhausted machine (allocation failure). One line and exit 1, never a signal:
  // systemd's Restart=on-failure then restarts the daemon with its state intact.
  kcd::trace::mark("main");
  try {
    const int code = kcd::daemon::cli_main(argc, argv);
    kcd::trace::mark("exit");
    return code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kubelet-certd: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "kubelet-certd: internal error: unknown exception\n");
  }
  return 1;
}

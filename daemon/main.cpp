// kubelet-certd: wires the libraries together; all behaviour lives in them.
#include "daemon/cli.hpp"

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  // Expected failures are values (kcd::Error) all the way up to the command; an exception here
  // is a bug or an exhausted machine (allocation failure). One line and exit 1, never a signal:
  // systemd's Restart=on-failure then restarts the daemon with its state intact.
  try {
    return kcd::daemon::cli_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kubelet-certd: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "kubelet-certd: internal error: unknown exception\n");
  }
  return 1;
}

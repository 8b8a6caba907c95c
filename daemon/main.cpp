// kubelet-certd: wires the libraries together; all behaviour lives in them.
#include "daemon/cli.hpp"

int main(int argc, char** argv) {
  return kcd::daemon::cli_main(argc, argv);
}

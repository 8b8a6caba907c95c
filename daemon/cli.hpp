// The command line: subcommands, their flags, and the exit codes they return.
#pragma once

namespace kcd::daemon {

// Parses argv, runs the chosen subcommand and returns the process exit code.
int cli_main(int argc, char** argv);

}  // namespace kcd::daemon

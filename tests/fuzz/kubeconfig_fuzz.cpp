// Kubeconfig files (bootstrap and kubelet): parse_kubeconfig returns a Kubeconfig or a config
// error for any text. Relative file names resolve under a directory that does not exist, so the
// files a kubeconfig names are not read from the machine's working directory.
#include "config/kubeconfig.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = kcd::fuzz::as_text(data, size);
  auto kc = kcd::config::parse_kubeconfig(text, "/nonexistent-fuzz/kubelet.conf");
  if (!kc) return 0;
  // What was accepted is usable as it is: the server re-parses to itself, one credential kind.
  auto again = kcd::config::parse_server_url(kc->server.text);
  KCD_FUZZ_CHECK(again.has_value(), "accepted server does not re-parse: " + kc->server.text);
  KCD_FUZZ_CHECK(again->host == kc->server.host && again->port == kc->server.port &&
                     again->path_prefix == kc->server.path_prefix,
                 "server re-parses differently: " + kc->server.text);
  KCD_FUZZ_CHECK(!kc->server.host.empty(), "empty host accepted");
  const int port = std::stoi(kc->server.port);
  KCD_FUZZ_CHECK(port >= 1 && port <= 65535, "port out of range: " + kc->server.port);
  return 0;
}

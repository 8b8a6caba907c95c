// kube-bench definitions and the CIS evaluation. The input is up to three parts separated by a
// line "%%": the kubelet config file's text, the kubelet's command line, and kube-bench
// definitions (empty: the compiled-in ones). Every check gets exactly one result, and parsing
// the definitions never throws.
#include "kubelet/cis_evaluate.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kcd::kubelet;
  const auto parts = kcd::fuzz::split_parts(kcd::fuzz::as_text(data, size), 3);

  const CisDefinitions* defs = &builtin_cis_definitions();
  kcd::Expected<CisDefinitions> custom = kcd::Unexpected(kcd::make_error(kcd::ErrorKind::Corrupt, "none"));
  if (!parts[2].empty()) {
    custom = parse_cis_definitions(parts[2], "node.yaml");
    if (!custom) return 0;
    defs = &*custom;
  }

  CisFacts facts;
  facts.command_line.origin = "service files";
  facts.command_line.text = "kubelet " + std::string(parts[1]);
  for (const auto& word : split_words(std::string(parts[1]))) {
    const auto eq = word.find('=');
    facts.command_line.flags.push_back(KubeletFlag{word.substr(0, eq),
                                                   eq == std::string::npos ? "true" : word.substr(eq + 1),
                                                   "/etc/default/kubelet:1"});
  }
  facts.kubelet_config.path = "/var/lib/kubelet/config.yaml";
  facts.kubelet_config.stat = CisFileStat{0644, "root", "root"};
  facts.kubeconfig.path = "/etc/kubernetes/kubelet.conf";
  facts.kubeconfig.stat = CisFileStat{0600, "root", "root"};
  facts.client_ca_file.path = "/etc/kubernetes/pki/ca.crt";
  facts.client_ca_file.stat = CisFileStat{0644, "root", "root"};
  facts.kubelet_config_text = std::string(parts[0]);

  const auto results = evaluate_cis(facts, *defs);
  std::size_t in_scope = 0;
  for (const auto& c : defs->checks) in_scope += cis_check_in_scope(c.id) ? 1 : 0;
  KCD_FUZZ_CHECK(results.size() == in_scope, "not one result per check in scope");
  return 0;
}

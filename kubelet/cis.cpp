#include "kubelet/cis.hpp"

namespace kcd::kubelet {

std::vector<CisResult> run_cis_checks(const CisInputs& in, const std::vector<HeldKey>& held_back,
                                      const CisDefinitions& defs) {
  CisFacts facts = collect_cis_facts(in);
  facts.held_back = held_back;
  return evaluate_cis(facts, defs);
}

}  // namespace kcd::kubelet

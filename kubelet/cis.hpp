// The CIS kubelet checks (4.1.5-4.1.10, 4.2.1-4.2.14) as kube-bench evaluates them, in four
// parts: cis_definitions (kube-bench's compiled-in definitions, typed), cis_kube_bench
// (kube-bench's semantics), cis_collect (the only I/O: the facts, cis_facts.hpp) and
// cis_evaluate (facts + definitions -> results, pure). This is the one call that runs them all.
#pragma once

#include "kubelet/cis_collect.hpp"
#include "kubelet/cis_definitions.hpp"
#include "kubelet/cis_evaluate.hpp"
#include "kubelet/cis_facts.hpp"
#include "kubelet/cis_kube_bench.hpp"

#include <vector>

namespace kcd::kubelet {

// Collects this node's facts and evaluates them; `held_back` are the keys the config-file
// patch does not write on this kubelet (their checks are WARN with the reason).
std::vector<CisResult> run_cis_checks(const CisInputs& in, const std::vector<HeldKey>& held_back = {},
                                      const CisDefinitions& defs = builtin_cis_definitions());

}  // namespace kcd::kubelet

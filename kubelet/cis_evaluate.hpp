// The CIS kubelet checks kubelet-certd reports (4.1.5-4.1.10, 4.2.1-4.2.14): facts +
// kube-bench's definitions -> a verdict per check with kube-bench's rules (cis_kube_bench), and
// kubelet-certd's own word on each: the evidence (what was looked at and where it came from),
// whether `check --fix` can fix it, the notes on 4.2.10 / 4.2.11, and WARN with the reason for
// a check whose key the patch holds back. Pure: no I/O, no clock.
#pragma once

#include "kubelet/cis_definitions.hpp"
#include "kubelet/cis_facts.hpp"
#include "kubelet/cis_kube_bench.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kcd::kubelet {

struct CisResult {
  std::string id, title;
  CisStatus status = CisStatus::Warn;
  bool scored = false;
  std::string evidence;     // what was looked at and what it said
  std::string remediation;  // kube-bench's text with the node's paths filled in (+ our notes)
  bool fixable = false;     // `kubelet-certd check --fix` can fix it
};

// The ids kubelet-certd reports.
bool cis_check_in_scope(std::string_view id);

// One result per definition in scope, in the definitions' order.
std::vector<CisResult> evaluate_cis(const CisFacts& facts,
                                    const CisDefinitions& defs = builtin_cis_definitions());

}  // namespace kcd::kubelet

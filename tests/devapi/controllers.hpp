// kube-controller-manager's part for CSRs: the csrapproving auto-approver as of 1.24, an
// approver for kubelet-serving CSRs, and the csrsigning signer.
#pragma once

#include "tests/devapi/server.hpp"
#include "tests/devapi/store.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace kcd::devapi {

class Authority;

// Runs on the io thread; each step comes after the delay the options give it, as the real
// controllers only see a CSR some time after it changed.
class Controllers {
 public:
  Controllers(boost::asio::io_context& io, const Options& options, const Authority& authority,
              const Faults& faults, CsrStore& store)
      : io_(io), options_(options), authority_(authority), faults_(faults), store_(store) {}

  // A CSR was created: the approver looks at it after approve_delay.
  void csr_created(const std::string& name);
  // kubectl certificate approve / deny (or PUT .../approval): the condition is added once; an
  // approval reaches the signer after sign_delay.
  void decide(const std::string& name, bool approve, const std::string& reason, const std::string& message);

 private:
  void schedule(std::chrono::milliseconds delay, std::function<void()> fn);
  void run_approver(const std::string& name);
  void run_signer(const std::string& name);
  void add_condition(CsrObject& csr, const ojson& condition);

  boost::asio::io_context& io_;
  const Options& options_;
  const Authority& authority_;  // its signer() signs
  const Faults& faults_;
  CsrStore& store_;
};

}  // namespace kcd::devapi

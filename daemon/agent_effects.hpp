// The effects the agent is given instead of building them: the API (CSRs, its Node, Events),
// the kubeconfig files, the certificate files, the clock and key generation (client-go's
// certificate manager Config{ClientsetFn, now} is the model). The supervisor passes the real ones; tests pass
// fakes and a virtual clock.
#pragma once

#include "base/expected.hpp"
#include "config/kubeconfig.hpp"
#include "daemon/api/csr_api.hpp"
#include "rotation/key.hpp"
#include "rotation/store/store.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kcd::daemon {

using SysTime = std::chrono::system_clock::time_point;

// Where the agent reads the kubelet's and the bootstrap kubeconfig, and writes the kubelet's.
class KubeconfigSource {
 public:
  virtual ~KubeconfigSource() = default;
  // nullopt when there is none at `path`; an error (one line, with its position) when unusable.
  virtual Expected<std::optional<config::Kubeconfig>> load(const std::filesystem::path& path) const = 0;
  // Replaces the kubeconfig at `path` with `text` in one step (mode 0600).
  virtual Expected<void> write(const std::filesystem::path& path, const std::string& text) = 0;
};

// The kubeconfig files on disk.
class KubeconfigFiles final : public KubeconfigSource {
 public:
  Expected<std::optional<config::Kubeconfig>> load(const std::filesystem::path& path) const override;
  Expected<void> write(const std::filesystem::path& path, const std::string& text) override;
};

// The wall clock the agent's deadlines are set in, and how its sleeps pass.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SysTime now() const = 0;
  // How long the agent's steady timer must wait for `span` of this clock to pass. A virtual
  // clock moves itself forward and answers zero, so a test never sleeps.
  virtual std::chrono::steady_clock::duration pass(std::chrono::system_clock::duration span) = 0;
};

class SystemClock final : public Clock {
 public:
  SysTime now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::duration pass(std::chrono::system_clock::duration span) override;
};

// A fresh private key; null when `stop` turned true first. Blocking (RSA-4096 takes seconds):
// the agent calls it off the loop.
using KeyGenerator = std::function<ossl::PKeyPtr(KeyAlgorithm algorithm, const std::atomic<bool>& stop)>;

// Where each certificate's files live (key, pending key, timestamped files, -current.pem).
using StoreFactory = std::function<std::unique_ptr<rotation::CertStore>(rotation::CertKind kind)>;
// The kubelet's own layout in `cert_dir` (rotation::Store).
StoreFactory store_files(const std::filesystem::path& cert_dir);

struct AgentEffects {
  api::CsrApiFactory csr_api;
  std::shared_ptr<KubeconfigSource> kubeconfigs;
  StoreFactory stores;
  std::shared_ptr<Clock> clock;
  KeyGenerator generate_key = [](KeyAlgorithm algorithm, const std::atomic<bool>& stop) {
    return rotation::generate_key(algorithm, &stop);
  };
  // Called when the agent stops: kept-alive connections are closed and none kept after (a
  // one-shot run's loop must not wait for their idle timer). Empty: nothing kept.
  std::function<void()> close_connections;
};

// The real effects: api::Client on `io` (each request bounded by `request_timeout`), the
// kubeconfig files, the certificate files in `cert_dir`, the system clock and OpenSSL's key
// generation.
AgentEffects production_effects(boost::asio::io_context& io, std::chrono::seconds request_timeout,
                                const std::filesystem::path& cert_dir);

}  // namespace kcd::daemon

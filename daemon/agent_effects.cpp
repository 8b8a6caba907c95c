#include "daemon/agent_effects.hpp"

#include "base/files.hpp"
#include "daemon/api/client.hpp"

namespace kcd::daemon {

namespace fs = std::filesystem;

Expected<std::optional<config::Kubeconfig>> KubeconfigFiles::load(const fs::path& path) const {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<config::Kubeconfig>();
  auto kc = config::load_kubeconfig(path);
  if (!kc) return Unexpected(kc.error());
  return std::optional<config::Kubeconfig>(std::move(*kc));
}

Expected<void> KubeconfigFiles::write(const fs::path& path, const std::string& text) {
  if (auto made = kcd::ensure_directory(path.parent_path(), 0755); !made) return made;
  return kcd::write_file_through(path, text, 0600);
}

std::chrono::steady_clock::duration SystemClock::pass(std::chrono::system_clock::duration span) {
  // One millisecond more, so the wall clock has reached the deadline when the timer fires.
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(span) + std::chrono::milliseconds(1);
}

StoreFactory store_files(const fs::path& cert_dir) {
  return [cert_dir](rotation::CertKind kind) {
    return std::unique_ptr<rotation::CertStore>(std::make_unique<rotation::Store>(cert_dir, kind));
  };
}

AgentEffects production_effects(boost::asio::io_context& io, std::chrono::seconds request_timeout,
                                const fs::path& cert_dir) {
  AgentEffects effects;
  // One cache for every client the agent makes: the POST's connection carries the WATCH.
  auto cache = api::make_connection_cache(io);
  effects.csr_api = [&io, request_timeout, cache](const api::Endpoint& endpoint,
                                                  const api::Credentials& credentials) {
    api::Options options;
    options.request_timeout = request_timeout;
    options.connections = cache;
    return std::unique_ptr<api::CsrApi>(std::make_unique<api::Client>(io, endpoint, credentials, options));
  };
  effects.close_connections = [cache] { api::close_connection_cache(*cache); };
  effects.kubeconfigs = std::make_shared<KubeconfigFiles>();
  effects.stores = store_files(cert_dir);
  effects.clock = std::make_shared<SystemClock>();
  return effects;
}

}  // namespace kcd::daemon

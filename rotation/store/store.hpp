// The on-disk certificate store in the kubelet's own layout (certDir): timestamped PEM files
// holding chain + key, the `-current.pem` symlink, and our pending key between CSR and install.
#pragma once

#include "base/expected.hpp"
#include "base/files.hpp"
#include "rotation/cert_kind.hpp"
#include "rotation/certificate.hpp"
#include "base/openssl.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kcd::rotation {

// The certificate currently installed: what `-current.pem` resolves to.
struct InstalledPair {
  std::filesystem::path link;  // certDir/kubelet-client-current.pem
  std::filesystem::path file;  // the timestamped file it points to
  std::vector<ossl::X509Ptr> chain;
  ossl::PKeyPtr key;
  CertInfo info;  // of the leaf
};

// What the agent needs of a certificate store (an effect it is given: tests wrap it to fail). Store,
// the kubelet's own layout in certDir, is the one on disk.
class CertStore {
 public:
  virtual ~CertStore() = default;
  virtual std::filesystem::path current_path() const = 0;      // <prefix>-current.pem
  virtual std::filesystem::path pending_key_path() const = 0;  // kubelet-certd-<kind>-pending.key
  virtual Expected<std::optional<InstalledPair>> load_current() const = 0;
  virtual Expected<std::optional<ossl::PKeyPtr>> load_pending_key() const = 0;
  virtual Expected<void> save_pending_key(EVP_PKEY* key) const = 0;
  // Sync::Durable: the removal survives a power loss once returned; Sync::None: a plain unlink.
  virtual Expected<void> discard_pending_key(Sync sync) const = 0;
  virtual Expected<std::filesystem::path> install(const std::vector<ossl::X509Ptr>& chain, EVP_PKEY* key,
                                                  std::chrono::system_clock::time_point now) const = 0;
  virtual std::vector<std::filesystem::path> prune(int keep) const = 0;
};

class Store final : public CertStore {
 public:
  Store(std::filesystem::path cert_dir, CertKind kind);

  const std::filesystem::path& dir() const { return dir_; }
  CertKind kind() const { return kind_; }
  std::filesystem::path current_path() const override;
  std::filesystem::path pending_key_path() const override;

  // nullopt when there is no current link; an error (naming the file and the problem) when it
  // is dangling, unreadable, lacks a certificate or key, or the key does not match the leaf.
  Expected<std::optional<InstalledPair>> load_current() const override;

  // The key generated for the CSR in flight. nullopt when there is none; an error when the
  // file exists but is unusable: not a regular file, a symlink, not owned by us, readable or
  // writable by group or others (it could have been planted), or not a key. The caller
  // discards it and starts over with a new key.
  Expected<std::optional<ossl::PKeyPtr>> load_pending_key() const override;
  // Written 0600 and fsync'ed BEFORE the CSR is filed, so a restart resumes with the same key.
  Expected<void> save_pending_key(EVP_PKEY* key) const override;
  Expected<void> discard_pending_key(Sync sync) const override;

  // Writes <prefix>-YYYY-MM-DD-HH-MM-SS.pem (chain, then key; 0600; fsync) named after `now`
  // in local time as kubelet does (the next free second if that name is taken), swaps `-current.pem` to it in
  // one rename, fsyncs the directory, and returns the new file's path. The previous pair stays current until
  // the rename.
  Expected<std::filesystem::path> install(const std::vector<ossl::X509Ptr>& chain, EVP_PKEY* key,
                                          std::chrono::system_clock::time_point now) const override;

  // Removes all but the newest `keep` timestamped files, never the one `-current.pem` points
  // at (so at most keep + 1 remain). Returns the removed paths.
  std::vector<std::filesystem::path> prune(int keep) const override;

  // The timestamped files of this kind, oldest first.
  std::vector<std::filesystem::path> list_files() const;

 private:
  std::filesystem::path dir_;
  CertKind kind_;
};

// SHA-256 (lowercase hex) of a key's public half: binds persisted state to a key file.
std::string public_key_fingerprint(EVP_PKEY* key);

}  // namespace kcd::rotation

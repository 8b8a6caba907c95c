#include "rotation/store/store.hpp"

#include "base/files.hpp"
#include "rotation/key.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <regex>

namespace kcd::rotation {

namespace fs = std::filesystem;

Store::Store(fs::path cert_dir, CertKind kind) : dir_(std::move(cert_dir)), kind_(kind) {}

fs::path Store::current_path() const {
  return dir_ / (std::string(file_prefix(kind_)) + "-current.pem");
}

fs::path Store::pending_key_path() const {
  return dir_ / ("kubelet-certd-" + std::string(to_string(kind_)) + "-pending.key");
}

Expected<std::optional<InstalledPair>> Store::load_current() const {
  const fs::path link = current_path();
  std::error_code ec;
  auto st = fs::symlink_status(link, ec);
  if (ec || !fs::exists(st)) return std::optional<InstalledPair>{};
  InstalledPair pair;
  pair.link = link;
  pair.file = link;
  if (fs::is_symlink(st)) {
    fs::path target = fs::read_symlink(link, ec);
    if (ec)
      return Unexpected(make_error(ErrorKind::Io, link.string() + ": cannot read symlink: " + ec.message()));
    pair.file = target.is_absolute() ? target : dir_ / target;
  }
  auto pem = read_file(link, 1 << 20);
  if (!pem) {
    Error e = pem.error();
    if (e.code == ENOENT) e.message += " (dangling symlink; a new certificate will be requested)";
    return Unexpected(std::move(e));
  }
  auto chain = parse_certificates_pem(*pem, pair.file.string());
  if (!chain) return Unexpected(chain.error());
  pair.chain = std::move(*chain);
  auto key = load_private_key_pem(*pem, pair.file.string());
  if (!key) {
    return Unexpected(make_error(ErrorKind::Corrupt,
                                 pair.file.string() + ": no usable private key: " + key.error().message));
  }
  pair.key = std::move(*key);
  X509* leaf = pair.chain.front().get();
  if (X509_check_private_key(leaf, pair.key.get()) != 1) {
    ossl::drain_errors();
    return Unexpected(make_error(ErrorKind::Corrupt,
                                 pair.file.string() + ": the private key does not match the certificate"));
  }
  pair.info = inspect_certificate(leaf);
  return std::optional<InstalledPair>{std::move(pair)};
}

Expected<std::optional<ossl::PKeyPtr>> Store::load_pending_key() const {
  const fs::path path = pending_key_path();
  // A key someone else could have planted (or read) is never used: a certificate for it would
  // give them the node's identity.
  auto pem = read_private_file(path, 1 << 16);
  if (!pem) {
    if (pem.error().code == ENOENT) return std::optional<ossl::PKeyPtr>{};
    return Unexpected(pem.error());
  }
  auto key = load_private_key_pem(*pem, path.string());
  if (!key) return Unexpected(key.error());
  return std::optional<ossl::PKeyPtr>{std::move(*key)};
}

Expected<void> Store::save_pending_key(EVP_PKEY* key) const {
  if (auto made = ensure_directory(dir_, 0755); !made) return made;
  return write_file_atomic(pending_key_path(), private_key_to_pem(key), 0600);
}

Expected<void> Store::discard_pending_key(Sync sync) const {
  return remove_file(pending_key_path(), sync);
}

Expected<fs::path> Store::install(const std::vector<ossl::X509Ptr>& chain, EVP_PKEY* key,
                                  std::chrono::system_clock::time_point now) const {
  if (auto made = ensure_directory(dir_, 0755); !made) return Unexpected(made.error());
  // Never overwrite an existing file (a renewal within the second of the previous install):
  // the current certificate must stay untouched until the symlink swap, so take the next free
  // second; the name keeps the kubelet's format and still sorts after the older files.
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::string name;
  for (;; ++t) {
    std::tm tm{};
    localtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d-%H-%M-%S", &tm);
    name = std::string(file_prefix(kind_)) + "-" + stamp + ".pem";
    std::error_code ec;
    if (!fs::exists(dir_ / name, ec)) break;
  }
  std::string content;
  for (const auto& cert : chain) content += certificate_to_pem(cert.get());
  content += private_key_to_pem(key);
  // The data fsync'ed (the symlink must never name a file a power loss could leave empty), the
  // directory not: the symlink swap below fsyncs the same directory, which commits this rename
  // with it (one fsync fewer per install).
  if (auto written = write_file_atomic(dir_ / name, content, 0600, Sync::FileOnly); !written)
    return Unexpected(written.error());
  crash_point("file-written");
  if (auto swapped = replace_symlink_atomic(current_path(), name); !swapped)
    return Unexpected(swapped.error());
  crash_point("symlink-swapped");
  return dir_ / name;
}

std::vector<fs::path> Store::list_files() const {
  const std::regex pattern(std::string(file_prefix(kind_)) + R"(-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem)");
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file(ec) && !entry.is_symlink(ec) && std::regex_match(name, pattern)) {
      out.push_back(entry.path());
    }
  }
  // The timestamp format sorts lexically in time order.
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> Store::prune(int keep) const {
  std::vector<fs::path> removed;
  auto files = list_files();
  std::error_code ec;
  fs::path current = fs::read_symlink(current_path(), ec);
  if (!ec && !current.is_absolute()) current = dir_ / current;
  // Everything older than the newest `keep` files goes, except what `-current.pem` points at.
  const std::size_t keep_n = static_cast<std::size_t>(std::max(keep, 1));
  for (std::size_t i = 0; i + keep_n < files.size(); ++i) {
    if (!ec && files[i] == current) continue;
    if (::unlink(files[i].c_str()) == 0) removed.push_back(files[i]);
  }
  // Best effort: a prune the disk forgets is redone at the next install.
  if (!removed.empty()) (void)fsync_directory(dir_);
  return removed;
}

std::string public_key_fingerprint(EVP_PKEY* key) {
  const std::string der = public_key_der(key);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ossl::check(EVP_Digest(der.data(), der.size(), md, &len, EVP_sha256(), nullptr) == 1,
              "EVP_Digest(SHA-256)");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

}  // namespace kcd::rotation

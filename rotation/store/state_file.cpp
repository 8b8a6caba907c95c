#include "rotation/store/state_file.hpp"

#include "base/files.hpp"

#include <cerrno>

namespace kcd::rotation {

StateLoad load_state(const std::filesystem::path& cert_dir) {
  const auto path = cert_dir / kStateFileName;
  std::string text;
  try {
    text = read_file(path, 1 << 20);
  } catch (const FileError& e) {
    StateLoad out;
    if (e.code() != ENOENT) out.warning = e.what();
    return out;
  }
  StateLoad out = parse_state(text, path.string());
  if (out.corrupt) {
    // Set aside, never lost: the operator can read what it said; everything in it is
    // rediscovered from the files on disk.
    const auto aside = std::filesystem::path(path.string() + ".corrupt");
    std::error_code ec;
    std::filesystem::rename(path, aside, ec);
    if (!ec) out.warning += " (the file was set aside as " + aside.string() + ")";
  }
  return out;
}

void save_state(const std::filesystem::path& cert_dir, const State& state) {
  write_file_atomic(cert_dir / kStateFileName, serialize_state(state), 0600);
}

}  // namespace kcd::rotation

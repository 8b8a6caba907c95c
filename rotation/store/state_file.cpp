#include "rotation/store/state_file.hpp"

#include "base/files.hpp"

#include <cerrno>

namespace kcd::rotation {

Expected<State> load_state(const std::filesystem::path& cert_dir) {
  const auto path = cert_dir / kStateFileName;
  auto text = read_file(path, 1 << 20);
  if (!text) {
    if (text.error().code == ENOENT) return State{};
    return Unexpected(text.error());
  }
  auto state = parse_state(*text, path.string());
  if (!state) {
    // Set aside, never lost: the operator can read what it said; everything in it is
    // rediscovered from the files on disk.
    Error e = state.error();
    const auto aside = std::filesystem::path(path.string() + ".corrupt");
    std::error_code ec;
    std::filesystem::rename(path, aside, ec);
    if (!ec) e.message += " (the file was set aside as " + aside.string() + ")";
    return Unexpected(std::move(e));
  }
  return state;
}

Expected<void> save_state(const std::filesystem::path& cert_dir, const State& state) {
  return write_file_atomic(cert_dir / kStateFileName, serialize_state(state), 0600);
}

}  // namespace kcd::rotation

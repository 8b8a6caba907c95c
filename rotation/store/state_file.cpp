#include "rotation/store/state_file.hpp"

#include "base/files.hpp"

#include <cerrno>

namespace kcd::rotation {

Expected<State> load_state(const std::filesystem::path& cert_dir) {
  const auto path = cert_dir / kStateFileName;
  // Our own file: never through a link, only when ours and closed to others (a planted state
  // file is ignored, and replaced at the next save).
  auto text = read_private_file(path, 1 << 20);
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
  const auto path = cert_dir / kStateFileName;
  // Read back with our own loader before it replaces the old file: what the next start reads
  // must say what this one meant.
  const std::string text = serialize_state(state);
  auto back = parse_state(text, path.string());
  if (!back || serialize_state(*back) != text) {
    return Unexpected(
        make_error(ErrorKind::Unexpected, path.string() + ": internal error: the state does not read back as "
                                                          "written; the previous file is kept"));
  }
  // Not fsync'ed: nothing the crash-safety invariant needs is only here. The pending CSR is
  // found again from the pending key (its name derives from the key; a create answered 409 is
  // resumed), the certificate from the files, and a rotation deadline lost is drawn again in
  // the same window. A file a power loss left empty is set aside by load_state and rebuilt.
  // Saves two fsyncs at every step that changes the state (three on a bootstrap).
  return write_file_atomic(path, text, 0600, Sync::None);
}

}  // namespace kcd::rotation

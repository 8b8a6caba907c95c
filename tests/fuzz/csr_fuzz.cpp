// CSR objects and watch-stream framing: parse_csr_pem (a CSR as anyone may file it), parse_csr
// of a JSON object (what the API server returns), parse_watch_line, and WatchDecoder: the
// events must be the same however the bytes are split into reads.
#include "daemon/api/types.hpp"
#include "rotation/csr.hpp"
#include "tests/fuzz/fuzz_util.hpp"

namespace {

std::string describe(const kcd::api::Result<kcd::api::WatchEvent>& ev) {
  if (!ev) return "error: " + ev.error().message;
  return std::to_string(static_cast<int>(ev->type)) + " " + ev->object.name + " " +
         ev->object.resource_version + " " + ev->object.certificate_pem +
         (ev->error ? " error " + ev->error->message : "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = kcd::fuzz::as_text(data, size);
  if (size == 0) return 0;

  if (auto csr = kcd::rotation::parse_csr_pem(text)) (void)csr->signature_valid;

  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded()) {
    if (auto csr = kcd::api::parse_csr(j)) {
      (void)csr->approved();
      (void)csr->denied();
      (void)csr->terminal_condition();
    }
    (void)kcd::api::error_from_status_object(j, 500);
  }

  // Framing: all at once, then in pieces whose sizes come from the first byte.
  kcd::api::WatchDecoder whole;
  std::vector<std::string> a;
  for (const auto& ev : whole.feed(text)) a.push_back(describe(ev));
  kcd::api::WatchDecoder pieces;
  std::vector<std::string> b;
  const std::size_t step = 1 + static_cast<unsigned char>(text[0]) % 97;
  for (std::size_t at = 0; at < text.size(); at += step) {
    for (const auto& ev : pieces.feed(text.substr(at, step))) b.push_back(describe(ev));
  }
  KCD_FUZZ_CHECK(a == b, "the events depend on how the stream was split");
  return 0;
}

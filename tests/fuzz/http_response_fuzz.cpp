// HTTP response handling as the API client does it: Beast's response parser with the client's
// limits, fed the bytes in reads of fuzzer-chosen size, then the response's meaning
// (csr_from_response: the CSR or the typed error from status, Status body and Retry-After; the
// same body also as a CSR list page, a Node, a Lease and an Event, as the approver reads them, and
// as a ConfigMap read as the cluster CA follower reads cluster-info). A
// first byte with the low bit set reads the response as a watch does instead: header first, then
// the body through a 16 KiB buffer into the WatchDecoder (200) or a capped error body.
#include "config/cluster_info.hpp"
#include "daemon/api/cluster_types.hpp"
#include "daemon/api/types.hpp"
#include "rotation/ca_bundle.hpp"
#include "tests/fuzz/fuzz_util.hpp"

#include <openssl/err.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <array>

namespace {

namespace http = boost::beast::http;

// Offers the parser at most `step` new bytes per read, as a socket might deliver them; returns
// false on a parse error (the client reports it and drops the connection).
template <class Parser, class OnBody>
bool feed(Parser& parser, std::string_view wire, std::size_t step, OnBody on_body) {
  std::string buffered;
  std::size_t offered = 0;
  while (!parser.is_done()) {
    boost::beast::error_code ec;
    const std::size_t used = buffered.empty() ? 0 : parser.put(boost::asio::buffer(buffered), ec);
    buffered.erase(0, used);
    on_body();
    if (ec == http::error::need_buffer) continue;  // on_body emptied the body buffer
    if (ec && ec != http::error::need_more) return false;
    if (buffered.empty() || used == 0) {
      if (offered == wire.size()) {
        parser.put_eof(ec);
        on_body();
        return !ec;
      }
      const std::size_t n = std::min(step, wire.size() - offered);
      buffered.append(wire.substr(offered, n));
      offered += n;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned char mode = data[0];
  const std::string_view wire = kcd::fuzz::as_text(data + 1, size - 1);
  const std::size_t step = 1 + (mode >> 1) * 37;

  if ((mode & 1) == 0) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(kcd::api::kResponseBodyLimit);
    if (!feed(parser, wire, step, [] {})) return 0;
    const auto& res = parser.get();
    KCD_FUZZ_CHECK(res.body().size() <= kcd::api::kResponseBodyLimit, "body past the limit");
    auto csr = kcd::api::csr_from_response(static_cast<int>(res.result_int()), res.body(),
                                           std::string_view(res[http::field::retry_after]), 201);
    if (!csr) (void)csr.error().format();
    const int status = static_cast<int>(res.result_int());
    const std::string_view retry_after(res[http::field::retry_after]);
    if (auto list = kcd::api::csr_list_from_response(status, res.body(), retry_after))
      KCD_FUZZ_CHECK(list->items.size() <= kcd::api::kResponseBodyLimit, "more items than bytes");
    if (auto node = kcd::api::node_from_response(status, res.body(), retry_after)) {
      for (const auto& a : node->addresses) KCD_FUZZ_CHECK(a.address.size() <= 1024, "address not bounded");
    }
    if (auto lease = kcd::api::lease_from_response(status, res.body(), retry_after, 200)) {
      // What was read is written back the same (the counts; times to the microsecond).
      auto again = kcd::api::lease_from_response(200, kcd::api::lease_body(*lease), "", 200);
      KCD_FUZZ_CHECK(again.has_value(), "a Lease read does not read back once written");
      KCD_FUZZ_CHECK(again->lease_duration_seconds == lease->lease_duration_seconds &&
                         again->transitions == lease->transitions &&
                         again->renew_time.has_value() == lease->renew_time.has_value(),
                     "a Lease read changes once written");
    }
    (void)kcd::api::event_from_response(status, res.body(), retry_after, 201);
    if (auto cm = kcd::api::config_map_from_response(status, res.body(), retry_after)) {
      KCD_FUZZ_CHECK(cm->data.size() <= kcd::api::kMaxConfigMapKeys, "ConfigMap keys not bounded");
      // cluster-info as the follower reads it: the kubeconfig parsed, a signature checked.
      if (auto info = kcd::config::parse_cluster_info(cm->data, "cluster-info")) {
        KCD_FUZZ_CHECK(info->signatures.size() <= kcd::config::kMaxClusterInfoSignatures,
                       "signatures not bounded");
        const kcd::config::BootstrapToken token{"abcdef", "0123456789abcdef"};
        auto signed_ok = kcd::config::verify_cluster_info(*info, token, "cluster-info");
        if (!signed_ok)
          KCD_FUZZ_CHECK(signed_ok.error().format().find(token.secret) == std::string::npos,
                         "secret in an error");
        (void)kcd::rotation::check_ca_bundle(info->ca_pem, "cluster-info", std::chrono::system_clock::now());
        KCD_FUZZ_CHECK(ERR_peek_error() == 0, "check_ca_bundle left an OpenSSL error queued");
      }
    }
    return 0;
  }

  // The watch: header, then the body in 16 KiB pieces.
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  std::array<char, 16384> chunk{};
  parser.get().body().data = chunk.data();
  parser.get().body().size = chunk.size();
  kcd::api::WatchDecoder decoder;
  std::string error_body;
  const auto on_body = [&] {
    if (!parser.is_header_done()) return;
    const std::size_t n = chunk.size() - parser.get().body().size;
    if (parser.get().result_int() == 200) {
      for (auto& ev : decoder.feed(std::string_view(chunk.data(), n))) (void)ev;
    } else if (error_body.size() < 65536) {
      error_body.append(chunk.data(), n);
    }
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
  };
  if (!feed(parser, wire, step, on_body)) return 0;
  if (parser.get().result_int() != 200) {
    (void)kcd::api::error_from_response(static_cast<int>(parser.get().result_int()), error_body,
                                        std::string_view(parser.get()[http::field::retry_after]));
  }
  return 0;
}

// Headers and framing for devapi's replies and chunked streams.
#include "tests/devapi/wire.hpp"

#include "tests/devapi/generated.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <ctime>

namespace kcd::devapi {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

// What the recorded apiserver sends in every X-Kubernetes-Pf-* header (API priority and fairness).
constexpr const char* kFlowSchemaUid = "0335b9bf-10af-47e9-a470-77ce138d6fb2";
constexpr const char* kPriorityLevelUid = "0f24fa21-7378-4774-a3c8-b852ef3cef7c";
// Go's net/http buffers this much before switching a response to chunked encoding.
constexpr std::size_t kChunkingThreshold = 2048;

std::string http_date() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

}  // namespace

void set_apiserver_headers(http::response_header<>& res, int status, const std::string& content_type,
                           bool nosniff, bool apf) {
  res.result(static_cast<unsigned>(status));
  res.set("Audit-Id", random_uuid());
  res.set(http::field::cache_control, "no-cache, private");
  res.set(http::field::content_type, content_type);
  if (nosniff) res.set("X-Content-Type-Options", "nosniff");
  if (apf) {
    res.set("X-Kubernetes-Pf-Flowschema-Uid", kFlowSchemaUid);
    res.set("X-Kubernetes-Pf-Prioritylevel-Uid", kPriorityLevelUid);
  }
  res.set(http::field::date, http_date());
}

asio::awaitable<bool> write_reply(TlsStream& stream, const Reply& reply, bool keep_alive) {
  http::response<http::string_body> res;
  res.version(11);
  set_apiserver_headers(res, reply.status, reply.content_type, reply.nosniff, reply.apf_headers);
  if (reply.retry_after) res.set(http::field::retry_after, std::to_string(*reply.retry_after));
  res.body() = reply.body;
  res.keep_alive(keep_alive);
  if (reply.body.size() > kChunkingThreshold) {
    res.chunked(true);
  } else {
    res.prepare_payload();
  }
  boost::system::error_code ec;
  co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

asio::awaitable<void> write_chunk(TlsStream& stream, const std::string& data, boost::system::error_code& ec) {
  co_await asio::async_write(stream, http::make_chunk(asio::buffer(data)),
                             asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> write_last_chunk(TlsStream& stream, boost::system::error_code& ec) {
  co_await asio::async_write(stream, http::make_chunk_last(), asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace kcd::devapi

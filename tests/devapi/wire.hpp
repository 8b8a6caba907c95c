// How devapi's answers go on the wire, like kube-apiserver's: the TLS stream, the headers in
// the recorded order, and Go net/http's choice between Content-Length and chunked framing.
//
// Boost.Asio 1.74's ssl headers call OpenSSL APIs that OpenSSL 3 deprecates, so they need the
// 1.1.1 API level (as in daemon/api/client.cpp): a .cpp that uses the stream includes this
// header before any other, and the check below fails the build when it comes too late.
#pragma once

#ifdef OPENSSL_MACROS_H
#error "tests/devapi/wire.hpp must be included before any OpenSSL header"
#endif
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 10101
#include <boost/asio/ssl.hpp>

#include "tests/devapi/status.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <string>

namespace kcd::devapi {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Audit-Id, Cache-Control, Content-Type, X-Content-Type-Options (with `nosniff`), the two
// X-Kubernetes-Pf-* (with `apf`), Date: in this order, as the recordings have them.
void set_apiserver_headers(boost::beast::http::response_header<>& res, int status,
                           const std::string& content_type, bool nosniff, bool apf);

// A whole reply, chunked past what Go buffers; false when the connection failed.
boost::asio::awaitable<bool> write_reply(TlsStream& stream, const Reply& reply, bool keep_alive);
// One chunk of a streamed body, and the zero chunk that ends it.
boost::asio::awaitable<void> write_chunk(TlsStream& stream, const std::string& data,
                                         boost::system::error_code& ec);
boost::asio::awaitable<void> write_last_chunk(TlsStream& stream, boost::system::error_code& ec);

}  // namespace kcd::devapi

#include "base/error.hpp"

#include <cstring>

namespace kcd {

std::string_view to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::Config:
      return "configuration";
    case ErrorKind::Io:
      return "i/o";
    case ErrorKind::Corrupt:
      return "corrupt";
    case ErrorKind::Crypto:
      return "crypto";
    case ErrorKind::Refused:
      return "refused";
    case ErrorKind::Network:
      return "network";
    case ErrorKind::Timeout:
      return "timeout";
    case ErrorKind::Tls:
      return "tls";
    case ErrorKind::Unauthorized:
      return "unauthorized";
    case ErrorKind::Forbidden:
      return "forbidden";
    case ErrorKind::NotFound:
      return "not found";
    case ErrorKind::AlreadyExists:
      return "already exists";
    case ErrorKind::Conflict:
      return "conflict";
    case ErrorKind::Gone:
      return "gone";
    case ErrorKind::Invalid:
      return "invalid";
    case ErrorKind::BadRequest:
      return "bad request";
    case ErrorKind::TooManyRequests:
      return "too many requests";
    case ErrorKind::ServerError:
      return "server error";
    case ErrorKind::Unexpected:
      return "unexpected response";
    case ErrorKind::Cancelled:
      return "cancelled";
  }
  return "?";
}

bool retryable_by_default(ErrorKind k) {
  switch (k) {
    case ErrorKind::Config:
    case ErrorKind::Refused:
    case ErrorKind::Unauthorized:
    case ErrorKind::Forbidden:
    case ErrorKind::Invalid:
    case ErrorKind::BadRequest:
      return false;
    default:
      return true;
  }
}

std::string Error::format() const {
  std::string out;
  if (!where.file.empty()) {
    out = where.file;
    if (where.line > 0) {
      out += ":" + std::to_string(where.line);
      if (where.column > 0) out += ":" + std::to_string(where.column);
    }
    out += ": ";
  }
  if (!where.key.empty()) out += where.key + ": ";
  if (code != 0 && kind >= ErrorKind::Network) {  // an HTTP status; an errno is not shown as one
    out += std::to_string(code);
    if (!reason.empty()) out += " " + reason;
    out += ": ";
  } else if (kind >= ErrorKind::Network && where.empty()) {
    out += std::string(to_string(kind)) + " error: ";  // no response: say what failed
  }
  out += message.empty() ? std::string(to_string(kind)) : message;
  if (retry_after) out += " (retry after " + std::to_string(retry_after->count()) + "s)";
  return out;
}

Error make_error(ErrorKind kind, std::string message, Location where) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  e.where = std::move(where);
  e.retryable = retryable_by_default(kind);
  return e;
}

Error config_error(Location where, std::string message) {
  return make_error(ErrorKind::Config, std::move(message), std::move(where));
}

Error io_error(std::string_view operation, std::string_view path, int err) {
  Error e =
      make_error(ErrorKind::Io, std::string(operation) + " " + std::string(path) + ": " + std::strerror(err));
  e.code = err;
  return e;
}

}  // namespace kcd

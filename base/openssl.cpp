#include "base/openssl.hpp"

#include <arpa/inet.h>
#include <openssl/buffer.h>

namespace kcd::ossl {

std::string drain_errors() {
  std::string out;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    const char* reason = ERR_reason_error_string(code);
    out += reason != nullptr ? reason : buf;
  }
  return out;
}

namespace {
std::string format(std::string_view call, std::string_view context) {
  std::string msg(call);
  std::string reasons = drain_errors();
  msg += ": ";
  msg += reasons.empty() ? "failed" : reasons;
  if (!context.empty()) {
    msg += " (";
    msg += context;
    msg += ")";
  }
  return msg;
}
}  // namespace

kcd::Error error(std::string_view call, std::string_view context, ErrorKind kind) {
  return make_error(kind, format(call, context));
}

CallFailed::CallFailed(std::string_view call, std::string_view context)
    : std::runtime_error(format(call, context)) {}

std::string asn1_to_utf8(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string ip_to_text(const ASN1_OCTET_STRING* s) {
  char buf[INET6_ADDRSTRLEN] = {};
  const int len = ASN1_STRING_length(s);
  const unsigned char* data = ASN1_STRING_get0_data(s);
  if (len == 4) {
    inet_ntop(AF_INET, data, buf, sizeof buf);
  } else if (len == 16) {
    inet_ntop(AF_INET6, data, buf, sizeof buf);
  } else {
    return "<invalid IP of " + std::to_string(len) + " bytes>";
  }
  return buf;
}

BioPtr mem_bio(std::string_view data) {
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  check(bio != nullptr, "BIO_new_mem_buf");
  return bio;
}

std::string bio_to_string(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  if (mem == nullptr) return {};
  return std::string(mem->data, mem->length);
}

}  // namespace kcd::ossl

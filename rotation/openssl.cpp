#include "rotation/openssl.hpp"

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

Error::Error(std::string_view call, std::string_view context)
    : std::runtime_error(format(call, context)), call_(call) {}

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

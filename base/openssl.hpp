// Owning wrappers for OpenSSL objects and errors that name the failing call.
#pragma once

#include "base/error.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kcd::ossl {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PKeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using ExtKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, Deleter<EXTENDED_KEY_USAGE_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

// Drains OpenSSL's thread-local error queue into one readable string
// ("reason1; reason2"); empty when the queue holds nothing.
std::string drain_errors();

// An OpenSSL call failed: a kcd::Error of `kind` with message
// "<call>: <openssl reasons>[ (<context>)]", draining OpenSSL's error queue.
kcd::Error error(std::string_view call, std::string_view context = {}, ErrorKind kind = ErrorKind::Crypto);

// An OpenSSL call that fails only when something is broken (allocation, a library bug) failed:
// a programming-level failure, thrown and caught only by main. what() as error() above.
class CallFailed : public std::runtime_error {
 public:
  CallFailed(std::string_view call, std::string_view context = {});
};

// Throws CallFailed(call, context) when ok is false; only for calls that fail when broken.
inline void check(bool ok, std::string_view call, std::string_view context = {}) {
  if (!ok) throw CallFailed(call, context);
}

// An ASN.1 string as UTF-8 (empty when it cannot be converted).
std::string asn1_to_utf8(const ASN1_STRING* s);
// An iPAddress SAN (4 or 16 octets) in inet_ntop form.
std::string ip_to_text(const ASN1_OCTET_STRING* s);

// A read-only memory BIO over `data` (which must outlive the BIO).
BioPtr mem_bio(std::string_view data);
// Everything written to a memory BIO, as a string.
std::string bio_to_string(BIO* bio);

}  // namespace kcd::ossl

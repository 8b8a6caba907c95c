#include "rotation/key.hpp"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>

namespace kcd::rotation {

ossl::PKeyPtr generate_key(KeyAlgorithm algorithm) {
  EVP_PKEY* key = nullptr;
  switch (algorithm) {
    case KeyAlgorithm::EcdsaP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyAlgorithm::EcdsaP384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyAlgorithm::Rsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
      break;
    case KeyAlgorithm::Rsa3072:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(3072));
      break;
    case KeyAlgorithm::Rsa4096:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(4096));
      break;
  }
  ossl::check(key != nullptr, "EVP_PKEY_Q_keygen", to_string(algorithm));
  return ossl::PKeyPtr(key);
}

std::string private_key_to_pem(EVP_PKEY* key) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio != nullptr, "BIO_new");
  // The "traditional" forms (SEC1 / PKCS#1) are what kubelet writes into its PEM files.
  ossl::check(PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
              "PEM_write_bio_PrivateKey_traditional");
  return ossl::bio_to_string(bio.get());
}

ossl::PKeyPtr load_private_key_pem(std::string_view pem, std::string_view source) {
  // Skip any blocks before the key (a kubelet PEM holds the certificate chain first).
  static constexpr std::string_view kMarkers[] = {"-----BEGIN EC PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----",
                                                  "-----BEGIN PRIVATE KEY-----"};
  std::size_t start = std::string_view::npos;
  for (auto marker : kMarkers) start = std::min(start, pem.find(marker));
  if (start == std::string_view::npos) {
    ERR_clear_error();
    throw ossl::Error("PEM_read_bio_PrivateKey", std::string(source) + ": no PRIVATE KEY block");
  }
  auto bio = ossl::mem_bio(pem.substr(start));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  ossl::check(key != nullptr, "PEM_read_bio_PrivateKey", source);
  return ossl::PKeyPtr(key);
}

std::string public_key_der(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  ossl::check(len > 0, "i2d_PUBKEY");
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool same_public_key(EVP_PKEY* a, EVP_PKEY* b) {
  if (a == nullptr || b == nullptr) return false;
  const bool same = EVP_PKEY_eq(a, b) == 1;
  ERR_clear_error();
  return same;
}

namespace {
std::string curve_name(EVP_PKEY* key) {
  char name[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::string(name, len);
}
}  // namespace

std::optional<KeyAlgorithm> key_algorithm_of(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    const std::string curve = curve_name(key);
    if (curve == "prime256v1" || curve == "P-256") return KeyAlgorithm::EcdsaP256;
    if (curve == "secp384r1" || curve == "P-384") return KeyAlgorithm::EcdsaP384;
    return std::nullopt;
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    switch (EVP_PKEY_get_bits(key)) {
      case 2048: return KeyAlgorithm::Rsa2048;
      case 3072: return KeyAlgorithm::Rsa3072;
      case 4096: return KeyAlgorithm::Rsa4096;
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string describe_key(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    const std::string curve = curve_name(key);
    if (curve == "prime256v1") return "ECDSA P-256";
    if (curve == "secp384r1") return "ECDSA P-384";
    if (curve == "secp521r1") return "ECDSA P-521";
    return "ECDSA " + curve;
  }
  if (EVP_PKEY_is_a(key, "RSA")) return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
  if (EVP_PKEY_is_a(key, "ED25519")) return "Ed25519";
  const char* name = EVP_PKEY_get0_type_name(key);
  return name != nullptr ? name : "unknown";
}

}  // namespace kcd::rotation

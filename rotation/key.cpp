#include "rotation/key.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <memory>

namespace kcd::rotation {

namespace {

struct KeySpec {
  const char* type;      // EVP_PKEY_Q_keygen key type
  const char* curve;     // named curve for EC, nullptr for RSA
  std::size_t rsa_bits;  // RSA modulus size, 0 for EC
};

constexpr KeySpec spec_of(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::EcdsaP256:
      return {"EC", "P-256", 0};
    case KeyAlgorithm::EcdsaP384:
      return {"EC", "P-384", 0};
    case KeyAlgorithm::Rsa2048:
      return {"RSA", nullptr, 2048};
    case KeyAlgorithm::Rsa3072:
      return {"RSA", nullptr, 3072};
    case KeyAlgorithm::Rsa4096:
      return {"RSA", nullptr, 4096};
  }
  return {"EC", "P-256", 0};
}

// A private key is never read interactively: without this callback OpenSSL would prompt on
// the terminal for the pass phrase of an encrypted key, which hangs a daemon.
int refuse_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return -1;
}

std::string curve_name(EVP_PKEY* key) {
  std::array<char, 64> name{};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name.data(), name.size(), &len) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::string(name.data(), len);
}

// OpenSSL's progress callback during generation: 0 abandons it.
int keep_generating(EVP_PKEY_CTX* ctx) {
  const auto* stop = static_cast<const std::atomic<bool>*>(EVP_PKEY_CTX_get_app_data(ctx));
  return stop != nullptr && stop->load() ? 0 : 1;
}

}  // namespace

ossl::PKeyPtr generate_key(KeyAlgorithm algorithm, const std::atomic<bool>* stop) {
  const KeySpec spec = spec_of(algorithm);
  const std::string what = "generating a " + std::string(to_string(algorithm)) + " key";
  if (stop != nullptr && stop->load()) return nullptr;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, spec.type, nullptr), &EVP_PKEY_CTX_free);
  ossl::check(ctx != nullptr, "EVP_PKEY_CTX_new_from_name", what);
  ossl::check(EVP_PKEY_keygen_init(ctx.get()) == 1, "EVP_PKEY_keygen_init", what);
  // RSA keys use the public exponent 65537 (OpenSSL's default); EC keys carry the named curve
  // (not explicit parameters), as Go's crypto/ecdsa does.
  if (spec.curve != nullptr) {
    ossl::check(EVP_PKEY_CTX_set_group_name(ctx.get(), spec.curve) == 1, "EVP_PKEY_CTX_set_group_name", what);
  } else {
    ossl::check(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(spec.rsa_bits)) == 1,
                "EVP_PKEY_CTX_set_rsa_keygen_bits", what);
  }
  EVP_PKEY_CTX_set_app_data(ctx.get(), const_cast<std::atomic<bool>*>(stop));
  EVP_PKEY_CTX_set_cb(ctx.get(), keep_generating);
  EVP_PKEY* key = nullptr;
  const int generated = EVP_PKEY_generate(ctx.get(), &key);
  if (generated != 1 && stop != nullptr && stop->load()) {
    ERR_clear_error();
    return nullptr;
  }
  ossl::check(generated == 1 && key != nullptr, "EVP_PKEY_generate", what);
  return ossl::PKeyPtr(key);
}

std::string private_key_to_pem(EVP_PKEY* key) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(bio != nullptr, "BIO_new");
  // The "traditional" forms (SEC1 / PKCS#1) are what kubelet writes into its PEM files.
  ossl::check(
      PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
      "PEM_write_bio_PrivateKey_traditional", describe_key(key));
  return ossl::bio_to_string(bio.get());
}

Expected<ossl::PKeyPtr> load_private_key_pem(std::string_view pem, std::string_view source) {
  // Skip any blocks before the key (a kubelet PEM holds the certificate chain first).
  static constexpr std::array<std::string_view, 3> kMarkers = {
      "-----BEGIN EC PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----"};
  std::size_t start = std::string_view::npos;
  for (auto marker : kMarkers) start = std::min(start, pem.find(marker));
  static constexpr std::string_view kEncrypted =
      ": the private key is encrypted; kubelet-certd needs an unencrypted key";
  if (start == std::string_view::npos) {
    ERR_clear_error();
    const bool encrypted = pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos;
    return Unexpected(ossl::error(
        "PEM_read_bio_PrivateKey",
        std::string(source) +
            std::string(encrypted ? kEncrypted : ": no EC, RSA or PKCS#8 PRIVATE KEY block found"),
        ErrorKind::Corrupt));
  }
  // An OpenSSL-encrypted traditional key announces itself in the block's headers.
  const std::string_view block = pem.substr(start, pem.find("-----END", start) - start);
  if (block.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
    ERR_clear_error();
    return Unexpected(ossl::error("PEM_read_bio_PrivateKey", std::string(source) + std::string(kEncrypted),
                                  ErrorKind::Corrupt));
  }
  auto bio = ossl::mem_bio(pem.substr(start));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr);
  if (key == nullptr) return Unexpected(ossl::error("PEM_read_bio_PrivateKey", source, ErrorKind::Corrupt));
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
  // EVP_PKEY_eq compares only the public components (and fails for different types).
  const bool same = EVP_PKEY_eq(a, b) == 1;
  ERR_clear_error();
  return same;
}

std::optional<KeyAlgorithm> key_algorithm_of(EVP_PKEY* key) {
  if (key == nullptr) return std::nullopt;
  if (EVP_PKEY_is_a(key, "EC")) {
    const std::string curve = curve_name(key);
    if (curve == "prime256v1" || curve == "P-256") return KeyAlgorithm::EcdsaP256;
    if (curve == "secp384r1" || curve == "P-384") return KeyAlgorithm::EcdsaP384;
    return std::nullopt;
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    switch (EVP_PKEY_get_bits(key)) {
      case 2048:
        return KeyAlgorithm::Rsa2048;
      case 3072:
        return KeyAlgorithm::Rsa3072;
      case 4096:
        return KeyAlgorithm::Rsa4096;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string describe_key(EVP_PKEY* key) {
  if (key == nullptr) return "no key";
  if (EVP_PKEY_is_a(key, "EC")) {
    const std::string curve = curve_name(key);
    if (curve == "prime256v1" || curve == "P-256") return "ECDSA P-256";
    if (curve == "secp384r1" || curve == "P-384") return "ECDSA P-384";
    if (curve == "secp521r1" || curve == "P-521") return "ECDSA P-521";
    return "ECDSA " + (curve.empty() ? std::string("(explicit curve)") : curve);
  }
  if (EVP_PKEY_is_a(key, "RSA")) return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
  if (EVP_PKEY_is_a(key, "ED25519")) return "Ed25519";
  if (EVP_PKEY_is_a(key, "ED448")) return "Ed448";
  const char* name = EVP_PKEY_get0_type_name(key);
  return name != nullptr ? name : "unknown";
}

}  // namespace kcd::rotation

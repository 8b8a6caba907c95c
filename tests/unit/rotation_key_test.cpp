// Private keys: generation parameters, kubelet's PEM forms, loading, public-key identity.
#include "rotation/key.hpp"

#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <thread>

namespace kcd::rotation {
namespace {

struct AlgorithmCase {
  KeyAlgorithm algorithm;
  const char* openssl_type;  // what EVP_PKEY_is_a must say
  int bits;
  const char* curve;      // OpenSSL group name for EC, nullptr for RSA
  const char* pem_label;  // kubelet's PEM block type
  const char* description;
};

const AlgorithmCase kAlgorithms[] = {
    {KeyAlgorithm::EcdsaP256, "EC", 256, "prime256v1", "EC PRIVATE KEY", "ECDSA P-256"},
    {KeyAlgorithm::EcdsaP384, "EC", 384, "secp384r1", "EC PRIVATE KEY", "ECDSA P-384"},
    {KeyAlgorithm::Rsa2048, "RSA", 2048, nullptr, "RSA PRIVATE KEY", "RSA 2048"},
    {KeyAlgorithm::Rsa3072, "RSA", 3072, nullptr, "RSA PRIVATE KEY", "RSA 3072"},
    {KeyAlgorithm::Rsa4096, "RSA", 4096, nullptr, "RSA PRIVATE KEY", "RSA 4096"},
};

std::string utf8_param(EVP_PKEY* key, const char* name) {
  char buf[80] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, name, buf, sizeof buf, &len) != 1) return "<absent>";
  return std::string(buf, len);
}

// The first PEM block's label, e.g. "EC PRIVATE KEY".
std::string pem_label(const std::string& pem) {
  const std::string begin = "-----BEGIN ";
  const auto start = pem.find(begin);
  if (start == std::string::npos) return {};
  const auto end = pem.find("-----", start + begin.size());
  return pem.substr(start + begin.size(), end - start - begin.size());
}

class RotationKeyAlgorithm : public ::testing::TestWithParam<AlgorithmCase> {};

TEST_P(RotationKeyAlgorithm, GeneratesTheRequestedTypeSizeAndParameters) {
  const auto& c = GetParam();
  auto key = generate_key(c.algorithm);
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), c.openssl_type));
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), c.bits);
  if (c.curve != nullptr) {
    EXPECT_EQ(utf8_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME), c.curve);
    // A named curve, not explicit parameters: Go's x509 refuses explicit-curve keys.
    EXPECT_EQ(utf8_param(key.get(), OSSL_PKEY_PARAM_EC_ENCODING), "named_curve");
  } else {
    BIGNUM* e = nullptr;
    ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e), 1);
    ossl::BignumPtr owned(e);
    EXPECT_TRUE(BN_is_word(e, 65537));
  }
  EXPECT_EQ(key_algorithm_of(key.get()), c.algorithm);
  EXPECT_EQ(describe_key(key.get()), c.description);
}

TEST_P(RotationKeyAlgorithm, WritesKubeletsTraditionalUnencryptedPemThatOpenSslReadsBack) {
  const auto& c = GetParam();
  auto key = generate_key(c.algorithm);
  const std::string pem = private_key_to_pem(key.get());
  EXPECT_EQ(pem_label(pem), c.pem_label);
  EXPECT_EQ(pem.find("ENCRYPTED"), std::string::npos);
  EXPECT_EQ(pem.find("Proc-Type"), std::string::npos);

  // Read back with OpenSSL directly: the same private key, not just the same public half.
  auto bio = ossl::mem_bio(pem);
  ossl::PKeyPtr back(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(back, nullptr) << ossl::drain_errors();
  EXPECT_EQ(EVP_PKEY_eq(back.get(), key.get()), 1);
  EXPECT_EQ(private_key_to_pem(back.get()), pem);
}

INSTANTIATE_TEST_SUITE_P(Table, RotationKeyAlgorithm, ::testing::ValuesIn(kAlgorithms), [](const auto& i) {
  std::string n(to_string(i.param.algorithm));
  n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
  return n;
});

// The daemon generates keys off its loop and asks a generation to stop on SIGTERM: RSA-4096
// can take seconds, and the stop must hold within 2 s.
TEST(RotationKey, AStopRequestedBeforeOrDuringGenerationAbandonsIt) {
  std::atomic<bool> stop{true};
  EXPECT_EQ(generate_key(KeyAlgorithm::Rsa4096, &stop), nullptr);
  EXPECT_EQ(generate_key(KeyAlgorithm::EcdsaP256, &stop), nullptr);
  // Turned on while OpenSSL searches for primes: abandoned at its next progress callback.
  std::atomic<bool> later{false};
  std::thread flip([&later] { later = true; });
  auto key = generate_key(KeyAlgorithm::Rsa4096, &later);
  flip.join();
  if (key) {
    EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 4096) << "finished before the stop: a whole key";
  }
  std::atomic<bool> go_on{false};
  auto whole = generate_key(KeyAlgorithm::Rsa2048, &go_on);
  ASSERT_NE(whole, nullptr);
  EXPECT_EQ(EVP_PKEY_get_bits(whole.get()), 2048);
}

TEST(RotationKey, EveryGeneratedKeyIsNew) {
  auto a = generate_key(KeyAlgorithm::EcdsaP256);
  auto b = generate_key(KeyAlgorithm::EcdsaP256);
  EXPECT_FALSE(same_public_key(a.get(), b.get()));
  EXPECT_NE(public_key_der(a.get()), public_key_der(b.get()));
  EXPECT_NE(private_key_to_pem(a.get()), private_key_to_pem(b.get()));
}

TEST(RotationKey, PublicKeyDerIsWhatOpenSslCommandLineExports) {
  testing::TempDir tmp;
  for (auto alg : {KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048}) {
    auto key = generate_key(alg);
    std::ofstream(tmp / "key.pem") << private_key_to_pem(key.get());
    auto out = testing::run_process({"/usr/bin/openssl", "pkey", "-in", (tmp / "key.pem").string(), "-pubout",
                                     "-outform", "DER", "-out", (tmp / "pub.der").string()},
                                    tmp / "logs");
    ASSERT_EQ(out.exit_code, 0) << out.err;
    EXPECT_EQ(public_key_der(key.get()), testing::read_text(tmp / "pub.der")) << to_string(alg);
  }
}

TEST(RotationKey, LoadsSec1Pkcs1AndPkcs8) {
  auto ec = generate_key(KeyAlgorithm::EcdsaP256);
  auto rsa = generate_key(KeyAlgorithm::Rsa2048);
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), ec.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
  const std::string pkcs8 = ossl::bio_to_string(bio.get());
  ASSERT_EQ(pem_label(pkcs8), "PRIVATE KEY");

  EXPECT_TRUE(same_public_key(load_private_key_pem(private_key_to_pem(ec.get()), "sec1")->get(), ec.get()));
  EXPECT_TRUE(
      same_public_key(load_private_key_pem(private_key_to_pem(rsa.get()), "pkcs1")->get(), rsa.get()));
  EXPECT_TRUE(same_public_key(load_private_key_pem(pkcs8, "pkcs8")->get(), ec.get()));
}

TEST(RotationKey, FindsTheKeyAfterTheCertificateChainOfAKubeletPem) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  // kubelet-client-<date>.pem: certificate chain first, then the key.
  const std::string pem =
      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
      "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n" +
      private_key_to_pem(key.get());
  EXPECT_TRUE(same_public_key(load_private_key_pem(pem, "kubelet-client-current.pem")->get(), key.get()));
}

struct BadKeyCase {
  std::string name;
  friend void PrintTo(const BadKeyCase& c, std::ostream* os) { *os << c.name; }
  std::function<std::string()> pem;
  std::string fragment;  // besides the source, the error must say this
};

class RotationKeyLoadRejects : public ::testing::TestWithParam<BadKeyCase> {};

TEST_P(RotationKeyLoadRejects, NamingTheSourceAndTheReason) {
  const auto& c = GetParam();
  const std::string source = "/var/lib/kubelet/pki/kubelet-client-current.pem";
  const auto key = load_private_key_pem(c.pem(), source);
  ASSERT_FALSE(key) << c.name << " was accepted";
  const std::string what = key.error().format();
  EXPECT_EQ(key.error().kind, ErrorKind::Corrupt);
  EXPECT_NE(what.find(source), std::string::npos) << what;
  EXPECT_NE(what.find(c.fragment), std::string::npos) << what;
  EXPECT_EQ(what.rfind("PEM_read_bio_PrivateKey: ", 0), 0u) << what;
}

std::string encrypted_pem(bool traditional) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  static const char kPass[] = "secret";
  const auto* pass = reinterpret_cast<const unsigned char*>(kPass);
  const int ok = traditional ? PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), EVP_aes_128_cbc(),
                                                                    pass, 6, nullptr, nullptr)
                             : PEM_write_bio_PrivateKey(bio.get(), key.get(), EVP_aes_128_cbc(), pass, 6,
                                                        nullptr, nullptr);
  if (ok != 1) throw ossl::CallFailed("PEM_write_bio_PrivateKey");
  return ossl::bio_to_string(bio.get());
}

INSTANTIATE_TEST_SUITE_P(
    Table, RotationKeyLoadRejects,
    ::testing::Values(
        BadKeyCase{"Empty", [] { return std::string(); }, "no EC, RSA or PKCS#8 PRIVATE KEY block"},
        BadKeyCase{
            "OnlyACertificate",
            [] { return std::string("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"); },
            "no EC, RSA or PKCS#8 PRIVATE KEY block"},
        BadKeyCase{"EncryptedPkcs8", [] { return encrypted_pem(false); }, "encrypted"},
        // Proc-Type: 4,ENCRYPTED: refused without asking for a pass phrase on the terminal.
        BadKeyCase{"EncryptedTraditional", [] { return encrypted_pem(true); }, "encrypted"},
        BadKeyCase{"BadBase64",
                   [] {
                     return std::string(
                         "-----BEGIN EC PRIVATE KEY-----\n!!!!\n-----END EC PRIVATE KEY-----\n");
                   },
                   "PEM_read_bio_PrivateKey: "},
        BadKeyCase{"TruncatedDer",
                   [] {
                     return std::string(
                         "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n");
                   },
                   "PEM_read_bio_PrivateKey: "}),
    [](const auto& i) { return i.param.name; });

TEST(RotationKey, SamePublicKeyComparesOnlyThePublicHalf) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  // The public half alone, as a certificate or CSR carries it.
  const std::string der = public_key_der(key.get());
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::PKeyPtr pub(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_NE(pub, nullptr);
  EXPECT_TRUE(same_public_key(key.get(), pub.get()));
  EXPECT_TRUE(same_public_key(pub.get(), key.get()));

  auto other_ec = generate_key(KeyAlgorithm::EcdsaP256);
  auto other_curve = generate_key(KeyAlgorithm::EcdsaP384);
  auto rsa = generate_key(KeyAlgorithm::Rsa2048);
  EXPECT_FALSE(same_public_key(key.get(), other_ec.get()));
  EXPECT_FALSE(same_public_key(key.get(), other_curve.get()));
  EXPECT_FALSE(same_public_key(key.get(), rsa.get()));
  EXPECT_FALSE(same_public_key(key.get(), nullptr));
  EXPECT_FALSE(same_public_key(nullptr, key.get()));
  EXPECT_EQ(ERR_peek_error(), 0u) << "a mismatch must not leave errors on OpenSSL's queue";
}

TEST(RotationKey, KeysWeDoNotGenerateAreDescribedButHaveNoAlgorithm) {
  struct Foreign {
    ossl::PKeyPtr key;
    std::string description;
  };
  std::vector<Foreign> keys;
  keys.push_back({ossl::PKeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521")), "ECDSA P-521"});
  keys.push_back(
      {ossl::PKeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024))), "RSA 1024"});
  keys.push_back({ossl::PKeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")), "Ed25519"});
  for (const auto& k : keys) {
    ASSERT_NE(k.key, nullptr) << k.description;
    EXPECT_EQ(describe_key(k.key.get()), k.description);
    EXPECT_EQ(key_algorithm_of(k.key.get()), std::nullopt) << k.description;
  }
}

}  // namespace
}  // namespace kcd::rotation

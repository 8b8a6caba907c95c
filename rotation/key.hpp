// Private keys: generation on the node, PEM encoding, public-key identity.
#pragma once

#include "base/key_algorithm.hpp"
#include "base/expected.hpp"
#include "base/openssl.hpp"

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

namespace kcd::rotation {

// Generates a fresh key with OpenSSL EVP (EVP_PKEY_generate). RSA-4096 takes seconds: when
// `stop` turns true meanwhile, generation is abandoned at OpenSSL's next progress callback and
// the result is null. Throws ossl::CallFailed naming the failing call (it fails only when
// OpenSSL is broken). Runs off the event loop (daemon/off_loop.hpp).
ossl::PKeyPtr generate_key(KeyAlgorithm algorithm, const std::atomic<bool>* stop = nullptr);

// PEM of the private key in the form kubelet itself writes: SEC1 "EC PRIVATE KEY" for
// ECDSA, PKCS#1 "RSA PRIVATE KEY" for RSA. Unencrypted. Never log the result.
std::string private_key_to_pem(EVP_PKEY* key);

// Parses the first private key found in `pem` (SEC1, PKCS#1 or PKCS#8; other PEM blocks
// such as certificates before it are skipped). `source` (a path or "client-key-data")
// names the origin in the error; a key that does not parse or is encrypted is ErrorKind::Corrupt.
Expected<ossl::PKeyPtr> load_private_key_pem(std::string_view pem, std::string_view source);

// DER SubjectPublicKeyInfo of the key's public half (what Go's x509.MarshalPKIXPublicKey gives).
std::string public_key_der(EVP_PKEY* key);

// True when both keys have the same public key.
bool same_public_key(EVP_PKEY* a, EVP_PKEY* b);

// The algorithm of an existing key, if it is one we generate.
std::optional<KeyAlgorithm> key_algorithm_of(EVP_PKEY* key);

// Human description for status output: "ECDSA P-256", "RSA 2048", "Ed25519", ...
std::string describe_key(EVP_PKEY* key);

}  // namespace kcd::rotation

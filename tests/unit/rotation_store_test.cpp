// The store in the kubelet's layout: install, symlink, permissions, pending key, pruning.
#include "base/files.hpp"
#include "rotation/key.hpp"
#include "rotation/store/store.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/test_ca.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>

namespace kcd::rotation {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

std::vector<ossl::X509Ptr> issue_for(EVP_PKEY* key, const testing::TestCa& ca) {
  testing::CertSpec spec;
  spec.subject = {"system:node:n1", {"system:nodes"}};
  spec.ext_key_usages = {"client auth"};
  spec.not_before = std::chrono::system_clock::now() - 5min;
  spec.not_after = std::chrono::system_clock::now() + 24h;
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(ca.issue(key, spec));
  return chain;
}

class StoreTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  testing::TestCa ca_ = testing::TestCa::create_root();
  Store store_{tmp_ / "pki", CertKind::Client};
};

TEST_F(StoreTest, NothingInstalledIsNotAnError) {
  auto current = store_.load_current();
  ASSERT_TRUE(current) << current.error().format();
  EXPECT_FALSE(current->has_value());
}

TEST_F(StoreTest, InstallWritesKubeletLayoutAndSwapsTheLink) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  auto chain = issue_for(key.get(), ca_);
  const auto t = std::chrono::sys_days{std::chrono::year{2026} / 11 / 22} + 10h + 32min + 28s;
  const fs::path file = *store_.install(chain, key.get(), t);
  EXPECT_TRUE(
      std::regex_match(file.filename().string(), std::regex(R"(kubelet-client-2026-11-2\d-\d\d-32-28\.pem)")))
      << file;
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(fs::read_symlink(store_.current_path()), file.filename());
  const std::string text = testing::read_text(file);
  EXPECT_EQ(text.find("-----BEGIN CERTIFICATE-----"), 0u);
  EXPECT_NE(text.find("-----BEGIN EC PRIVATE KEY-----"), std::string::npos);
  auto current = store_.load_current();
  ASSERT_TRUE(current && current->has_value()) << (current ? "" : current.error().format());
  EXPECT_TRUE(same_public_key((**current).key.get(), key.get()));
  EXPECT_EQ((**current).file, file);
  EXPECT_EQ((**current).info.common_name, "system:node:n1");
}

TEST_F(StoreTest, SecondInstallKeepsTheOldFileUntilPruned) {
  auto k1 = generate_key(KeyAlgorithm::EcdsaP256);
  auto k2 = generate_key(KeyAlgorithm::EcdsaP256);
  const auto t = std::chrono::system_clock::now();
  const fs::path f1 = *store_.install(issue_for(k1.get(), ca_), k1.get(), t - 2h);
  const fs::path f2 = *store_.install(issue_for(k2.get(), ca_), k2.get(), t);
  EXPECT_TRUE(fs::exists(f1));
  EXPECT_EQ(fs::read_symlink(store_.current_path()), f2.filename());
  EXPECT_EQ(store_.list_files(), (std::vector<fs::path>{f1, f2}));
}

TEST_F(StoreTest, InstallWithinTheSameSecondNeverOverwritesTheCurrentFile) {
  auto k1 = generate_key(KeyAlgorithm::EcdsaP256);
  auto k2 = generate_key(KeyAlgorithm::EcdsaP256);
  const auto t = std::chrono::system_clock::now();
  const fs::path f1 = *store_.install(issue_for(k1.get(), ca_), k1.get(), t);
  const std::string first = testing::read_text(f1);
  const fs::path f2 = *store_.install(issue_for(k2.get(), ca_), k2.get(), t);
  EXPECT_NE(f1, f2);
  EXPECT_EQ(testing::read_text(f1), first);
  EXPECT_GT(f2.filename().string(), f1.filename().string());
  EXPECT_EQ(fs::read_symlink(store_.current_path()), f2.filename());
}

TEST_F(StoreTest, PruneKeepsTheNewestAndNeverTheCurrent) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  auto chain = issue_for(key.get(), ca_);
  const auto t = std::chrono::system_clock::now();
  std::vector<fs::path> files;
  for (int i = 5; i >= 1; --i) files.push_back(*store_.install(chain, key.get(), t - std::chrono::hours(i)));
  // Point current at the oldest (as if a newer file were a leftover of a crash).
  ASSERT_TRUE(replace_symlink_atomic(store_.current_path(), files.front().filename()));
  auto removed = store_.prune(3);
  EXPECT_EQ(removed, std::vector<fs::path>{files[1]});
  EXPECT_EQ(store_.list_files(), (std::vector<fs::path>{files[0], files[2], files[3], files[4]}));
  EXPECT_TRUE(fs::exists(files[0]));
  EXPECT_TRUE(fs::exists(files[4]));
}

TEST_F(StoreTest, PendingKeyRoundTripsWith0600) {
  auto none = store_.load_pending_key();
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  auto key = generate_key(KeyAlgorithm::EcdsaP384);
  ASSERT_TRUE(store_.save_pending_key(key.get()));
  EXPECT_EQ(mode_of(store_.pending_key_path()), 0600u);
  auto loaded = store_.load_pending_key();
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_TRUE(same_public_key(loaded->value().get(), key.get()));
  ASSERT_TRUE(store_.discard_pending_key(Sync::Durable));
  EXPECT_FALSE(fs::exists(store_.pending_key_path()));
}

TEST_F(StoreTest, CorruptPendingKeyIsReported) {
  fs::create_directories(tmp_ / "pki");
  ASSERT_TRUE(write_file_atomic(store_.pending_key_path(), "garbage", 0600));
  auto loaded = store_.load_pending_key();
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().kind, ErrorKind::Corrupt);
  EXPECT_NE(loaded.error().format().find(store_.pending_key_path().string()), std::string::npos)
      << loaded.error().format();
}

// Whoever can plant the pending key gets a system:node: certificate for a key they know: a key
// that is not ours alone is never used (the caller discards it and generates a new one).
TEST_F(StoreTest, APendingKeyOthersCouldHavePlantedIsRefused) {
  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  ASSERT_TRUE(store_.save_pending_key(key.get()));
  ASSERT_EQ(::chmod(store_.pending_key_path().c_str(), 0644), 0);
  auto readable = store_.load_pending_key();
  ASSERT_FALSE(readable);
  EXPECT_EQ(readable.error().kind, ErrorKind::Refused);
  EXPECT_NE(readable.error().format().find("may have been planted"), std::string::npos)
      << readable.error().format();
  ASSERT_EQ(::chmod(store_.pending_key_path().c_str(), 0600), 0);
  const fs::path planted = tmp_ / "planted.key";
  fs::rename(store_.pending_key_path(), planted);
  fs::create_symlink(planted, store_.pending_key_path());
  auto linked = store_.load_pending_key();
  ASSERT_FALSE(linked);
  EXPECT_NE(linked.error().format().find("is a symlink"), std::string::npos) << linked.error().format();
}

TEST_F(StoreTest, DanglingOrMismatchedCurrentIsAnErrorNamingTheFile) {
  fs::create_directories(tmp_ / "pki");
  ASSERT_TRUE(replace_symlink_atomic(store_.current_path(), "kubelet-client-2020-01-01-00-00-00.pem"));
  auto dangling = store_.load_current();
  ASSERT_FALSE(dangling);
  EXPECT_NE(dangling.error().format().find("dangling"), std::string::npos) << dangling.error().format();

  auto key = generate_key(KeyAlgorithm::EcdsaP256);
  auto other = generate_key(KeyAlgorithm::EcdsaP256);
  ASSERT_TRUE(store_.install(issue_for(key.get(), ca_), other.get(), std::chrono::system_clock::now()));
  auto mismatched = store_.load_current();
  ASSERT_FALSE(mismatched);
  EXPECT_NE(mismatched.error().format().find("does not match"), std::string::npos)
      << mismatched.error().format();
}

TEST_F(StoreTest, ServingStoreUsesKubeletServerNames) {
  Store serving(tmp_ / "pki", CertKind::Serving);
  EXPECT_EQ(serving.current_path(), tmp_ / "pki/kubelet-server-current.pem");
  EXPECT_EQ(serving.pending_key_path(), tmp_ / "pki/kubelet-certd-serving-pending.key");
}

}  // namespace
}  // namespace kcd::rotation

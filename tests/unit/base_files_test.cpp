// Atomic writes and the one-step symlink swap: permissions, content, no leftovers.
#include "base/files.hpp"
#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace kcd::rotation {
namespace {

namespace fs = std::filesystem;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

int entries(const fs::path& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(RotationAtomicFile, WritesContentWithTheRequestedModeRegardlessOfUmask) {
  testing::TempDir tmp;
  const mode_t old = ::umask(0);
  write_file_atomic(tmp / "a.pem", "hello", 0600);
  ::umask(old);
  EXPECT_EQ(testing::read_text(tmp / "a.pem"), "hello");
  EXPECT_EQ(mode_of(tmp / "a.pem"), 0600u);
  EXPECT_EQ(entries(tmp.path()), 1) << "no temp file left behind";
}

TEST(RotationAtomicFile, ReplacesAnExistingFileAndItsMode) {
  testing::TempDir tmp;
  write_file_atomic(tmp / "f", "old", 0644);
  write_file_atomic(tmp / "f", "new content", 0600);
  EXPECT_EQ(testing::read_text(tmp / "f"), "new content");
  EXPECT_EQ(mode_of(tmp / "f"), 0600u);
}

TEST(RotationAtomicFile, FailureLeavesThePreviousFileAndNoTempFile) {
  testing::TempDir tmp;
  write_file_atomic(tmp / "f", "old", 0600);
  // A directory where the file should go makes the rename fail.
  fs::create_directory(tmp / "d");
  EXPECT_THROW(write_file_atomic(tmp / "d", "x", 0600), FileError);
  EXPECT_EQ(testing::read_text(tmp / "f"), "old");
  EXPECT_EQ(entries(tmp.path()), 2);
}

TEST(RotationAtomicFile, ErrorNamesThePathAndTheReason) {
  try {
    write_file_atomic("/nonexistent-dir-kcd/x.pem", "x", 0600);
    FAIL() << "expected FileError";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir-kcd/x.pem"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
}

TEST(RotationAtomicFile, SymlinkSwapNeverLeavesAMomentWithoutTheLink) {
  testing::TempDir tmp;
  write_file_atomic(tmp / "a", "A", 0600);
  write_file_atomic(tmp / "b", "B", 0600);
  replace_symlink_atomic(tmp / "current", "a");
  std::atomic<bool> stop{false};
  std::atomic<int> missing{0};
  std::thread reader([&] {
    while (!stop) {
      struct stat st {};
      if (::lstat((tmp / "current").c_str(), &st) != 0) ++missing;
    }
  });
  for (int i = 0; i < 2000; ++i) replace_symlink_atomic(tmp / "current", i % 2 ? "a" : "b");
  stop = true;
  reader.join();
  EXPECT_EQ(missing.load(), 0);
  EXPECT_EQ(fs::read_symlink(tmp / "current"), "a");
  EXPECT_EQ(entries(tmp.path()), 3);
}

TEST(RotationAtomicFile, RemoveDurableIgnoresMissingFiles) {
  testing::TempDir tmp;
  EXPECT_NO_THROW(remove_file_durable(tmp / "missing"));
  write_file_atomic(tmp / "f", "x", 0600);
  remove_file_durable(tmp / "f");
  EXPECT_FALSE(fs::exists(tmp / "f"));
}

TEST(RotationAtomicFile, ReadFileRefusesHugeFiles) {
  testing::TempDir tmp;
  write_file_atomic(tmp / "f", std::string(100, 'x'), 0600);
  EXPECT_EQ(read_file(tmp / "f").size(), 100u);
  EXPECT_THROW(read_file(tmp / "f", 10), FileError);
}

}  // namespace
}  // namespace kcd::rotation

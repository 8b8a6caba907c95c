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
  ASSERT_TRUE(write_file_atomic(tmp / "a.pem", "hello", 0600));
  ::umask(old);
  EXPECT_EQ(testing::read_text(tmp / "a.pem"), "hello");
  EXPECT_EQ(mode_of(tmp / "a.pem"), 0600u);
  EXPECT_EQ(entries(tmp.path()), 1) << "no temp file left behind";
}

TEST(RotationAtomicFile, ReplacesAnExistingFileAndItsMode) {
  testing::TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp / "f", "old", 0644));
  ASSERT_TRUE(write_file_atomic(tmp / "f", "new content", 0600));
  EXPECT_EQ(testing::read_text(tmp / "f"), "new content");
  EXPECT_EQ(mode_of(tmp / "f"), 0600u);
}

TEST(RotationAtomicFile, FailureLeavesThePreviousFileAndNoTempFile) {
  testing::TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp / "f", "old", 0600));
  // A directory where the file should go makes the rename fail.
  fs::create_directory(tmp / "d");
  EXPECT_FALSE(write_file_atomic(tmp / "d", "x", 0600));
  EXPECT_EQ(testing::read_text(tmp / "f"), "old");
  EXPECT_EQ(entries(tmp.path()), 2);
}

TEST(RotationAtomicFile, ErrorNamesThePathAndTheReason) {
  const auto written = write_file_atomic("/nonexistent-dir-kcd/x.pem", "x", 0600);
  ASSERT_FALSE(written);
  const std::string text = written.error().format();
  EXPECT_EQ(written.error().kind, ErrorKind::Io);
  EXPECT_EQ(written.error().code, ENOENT);
  EXPECT_NE(text.find("/nonexistent-dir-kcd/x.pem"), std::string::npos) << text;
  EXPECT_NE(text.find("No such file or directory"), std::string::npos) << text;
}

TEST(RotationAtomicFile, SymlinkSwapNeverLeavesAMomentWithoutTheLink) {
  testing::TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp / "a", "A", 0600));
  ASSERT_TRUE(write_file_atomic(tmp / "b", "B", 0600));
  ASSERT_TRUE(replace_symlink_atomic(tmp / "current", "a"));
  std::atomic<bool> stop{false};
  std::atomic<int> missing{0};
  std::thread reader([&] {
    while (!stop) {
      struct stat st {};
      if (::lstat((tmp / "current").c_str(), &st) != 0) ++missing;
    }
  });
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(replace_symlink_atomic(tmp / "current", i % 2 ? "a" : "b"));
  stop = true;
  reader.join();
  EXPECT_EQ(missing.load(), 0);
  EXPECT_EQ(fs::read_symlink(tmp / "current"), "a");
  EXPECT_EQ(entries(tmp.path()), 3);
}

// Issue 13: configuration management often makes kubelet.conf or the kubelet config a link.
// A write goes through it: the link stays, the file it names is replaced atomically in its own
// folder; chains, relative and dangling links included; a loop or a target folder that is not
// ours is an error and nothing is written.
TEST(RotationAtomicFile, WritesThroughLinksToTheFileTheyName) {
  testing::TempDir tmp;
  fs::create_directories(tmp / "cm");
  ASSERT_EQ(::chmod((tmp / "cm").c_str(), 0755), 0);
  ASSERT_TRUE(write_file_atomic(tmp / "cm" / "kubelet.conf", "old", 0600));
  fs::create_symlink("cm/kubelet.conf", tmp / "hop");     // relative, against its own folder
  fs::create_symlink(tmp / "hop", tmp / "kubelet.conf");  // a chain of two
  ASSERT_TRUE(write_file_through(tmp / "kubelet.conf", "new", 0600));
  EXPECT_TRUE(fs::is_symlink(tmp / "kubelet.conf")) << "the link stays a link";
  EXPECT_TRUE(fs::is_symlink(tmp / "hop"));
  EXPECT_EQ(testing::read_text(tmp / "cm" / "kubelet.conf"), "new");
  EXPECT_EQ(entries(tmp / "cm"), 1) << "no temp file left in the target's folder";
  EXPECT_EQ(write_through_target(tmp / "kubelet.conf").value(), tmp / "cm" / "kubelet.conf");

  fs::create_symlink(tmp / "cm" / "ca.crt", tmp / "dangling");  // names a file not there yet
  ASSERT_TRUE(write_file_through(tmp / "dangling", "ca", 0644));
  EXPECT_EQ(testing::read_text(tmp / "cm" / "ca.crt"), "ca");
  EXPECT_TRUE(fs::is_symlink(tmp / "dangling"));

  ASSERT_TRUE(write_file_through(tmp / "plain", "p", 0600));  // not a link: as write_file_atomic
  EXPECT_FALSE(fs::is_symlink(tmp / "plain"));

  fs::create_symlink(tmp / "loop-b", tmp / "loop-a");
  fs::create_symlink(tmp / "loop-a", tmp / "loop-b");
  auto loop = write_file_through(tmp / "loop-a", "x", 0600);
  ASSERT_FALSE(loop);
  EXPECT_NE(loop.error().message.find("loop-a"), std::string::npos) << loop.error().message;
}

TEST(RotationAtomicFile, ALinkIntoAFolderOthersCanWriteIsRefusedAndNothingWritten) {
  testing::TempDir tmp;
  fs::create_directories(tmp / "open");
  ASSERT_EQ(::chmod((tmp / "open").c_str(), 0777), 0);
  fs::create_symlink(tmp / "open" / "kubelet.conf", tmp / "kubelet.conf");
  auto r = write_file_through(tmp / "kubelet.conf", "secret", 0600);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::Refused);
  EXPECT_NE(r.error().message.find("is a link to " + (tmp / "open" / "kubelet.conf").string()),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("chmod"), std::string::npos) << "the fix: " << r.error().message;
  EXPECT_FALSE(fs::exists(tmp / "open" / "kubelet.conf"));
  EXPECT_EQ(entries(tmp / "open"), 0);
}

TEST(RotationAtomicFile, RemoveDurableIgnoresMissingFiles) {
  testing::TempDir tmp;
  EXPECT_TRUE(remove_file_durable(tmp / "missing"));
  ASSERT_TRUE(write_file_atomic(tmp / "f", "x", 0600));
  ASSERT_TRUE(remove_file_durable(tmp / "f"));
  EXPECT_FALSE(fs::exists(tmp / "f"));
}

TEST(RotationAtomicFile, ReadFileRefusesHugeFiles) {
  testing::TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp / "f", std::string(100, 'x'), 0600));
  EXPECT_EQ(read_file(tmp / "f")->size(), 100u);
  const auto big = read_file(tmp / "f", 10);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, EFBIG);
  EXPECT_NE(big.error().format().find("larger than 10 bytes"), std::string::npos) << big.error().format();
}

// Nothing that is not a regular file is ever read: a FIFO would block the daemon (past
// --timeout and SIGTERM), a device like /dev/zero would grow memory without end.
TEST(RotationAtomicFile, ReadFileRefusesWhatIsNotARegularFileWithoutBlocking) {
  testing::TempDir tmp;
  ASSERT_EQ(::mkfifo((tmp / "fifo").c_str(), 0600), 0);
  for (const fs::path& p : {tmp / "fifo", fs::path("/dev/zero"), fs::path("/dev/null"), tmp.path()}) {
    const auto read = read_file(p, 1 << 20);
    ASSERT_FALSE(read) << p;
    EXPECT_NE(read.error().format().find("not a regular file"), std::string::npos) << read.error().format();
  }
}

TEST(RotationAtomicFile, PrivateFilesMustBeOursClosedAndNotLinks) {
  testing::TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp / "key", "secret", 0600));
  EXPECT_EQ(*read_private_file(tmp / "key", 100), "secret");
  ASSERT_EQ(::chmod((tmp / "key").c_str(), 0640), 0);
  auto open_to_group = read_private_file(tmp / "key", 100);
  ASSERT_FALSE(open_to_group);
  EXPECT_NE(open_to_group.error().format().find("mode 0640"), std::string::npos)
      << open_to_group.error().format();
  ASSERT_EQ(::chmod((tmp / "key").c_str(), 0600), 0);
  fs::create_symlink(tmp / "key", tmp / "link");
  auto linked = read_private_file(tmp / "link", 100);
  ASSERT_FALSE(linked);
  EXPECT_NE(linked.error().format().find("is a symlink"), std::string::npos) << linked.error().format();
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown((tmp / "key").c_str(), 65534, 65534), 0);
    auto foreign = read_private_file(tmp / "key", 100);
    ASSERT_FALSE(foreign);
    EXPECT_NE(foreign.error().format().find("owned by uid 65534"), std::string::npos)
        << foreign.error().format();
  }
}

// Issue 10, class 4: a folder someone else can change is never trusted with our files.
std::string refused(const fs::path& dir) {
  auto checked = check_private_directory(dir);
  return checked ? std::string() : checked.error().format();
}

TEST(PrivateDirectory, OursAndClosedIsTrusted) {
  testing::TempDir tmp;  // 0700 under the sticky /tmp
  fs::create_directory(tmp / "pki");
  ASSERT_EQ(::chmod((tmp / "pki").c_str(), 0755), 0);
  EXPECT_EQ(refused(tmp / "pki"), "");
  EXPECT_EQ(refused(tmp / "pki/"), "");
  EXPECT_EQ(refused(tmp / "pki/not/yet/made"), "") << "judged by the nearest folder that exists";
}

TEST(PrivateDirectory, WritableByGroupOrOthersIsRefusedWithTheFix) {
  testing::TempDir tmp;
  fs::create_directory(tmp / "pki");
  for (mode_t mode : {0775, 0757, 01777}) {
    ASSERT_EQ(::chmod((tmp / "pki").c_str(), mode), 0);
    const std::string why = refused(tmp / "pki");
    EXPECT_NE(why.find((tmp / "pki").string() + ": writable by"), std::string::npos) << why;
    EXPECT_NE(why.find("fix: chmod go-w " + (tmp / "pki").string()), std::string::npos) << why;
    EXPECT_NE(why.find("pending key"), std::string::npos) << why;
  }
}

TEST(PrivateDirectory, AnOpenParentIsRefusedUnlessSticky) {
  testing::TempDir tmp;
  fs::create_directories(tmp / "open/pki");
  ASSERT_EQ(::chmod((tmp / "open").c_str(), 0777), 0);
  std::string why = refused(tmp / "open/pki");
  EXPECT_NE(why.find((tmp / "open").string() + " (a parent of " + (tmp / "open/pki").string() +
                     "): writable by others"),
            std::string::npos)
      << why;
  EXPECT_NE(refused(tmp / "open/missing"), "") << "a folder we would create in an open parent";
  ASSERT_EQ(::chmod((tmp / "open").c_str(), 01777), 0);
  EXPECT_EQ(refused(tmp / "open/pki"), "") << "a sticky parent (like /tmp) cannot have our folder swapped";
  EXPECT_EQ(refused(tmp / "open/missing"), "")
      << "creatable there; whoever creates it first owns it, and the caller checks again after creating";
}

TEST(PrivateDirectory, ALinkIsJudgedByWhereItLeads) {
  testing::TempDir tmp;
  fs::create_directories(tmp / "shared/pki");
  ASSERT_EQ(::chmod((tmp / "shared").c_str(), 0777), 0);
  fs::create_directory_symlink(tmp / "shared/pki", tmp / "pki");
  const std::string why = refused(tmp / "pki");
  EXPECT_NE(why.find((tmp / "shared").string()), std::string::npos) << why;
}

TEST(PrivateDirectory, AForeignOwnerIsRefusedWithTheFix) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a folder away";
  testing::TempDir tmp;
  fs::create_directory(tmp / "pki");
  ASSERT_EQ(::chown((tmp / "pki").c_str(), 65534, 65534), 0);
  const std::string why = refused(tmp / "pki");
  EXPECT_NE(why.find("owned by uid 65534"), std::string::npos) << why;
  EXPECT_NE(why.find("fix: chown root " + (tmp / "pki").string()), std::string::npos) << why;
  fs::create_directory(tmp / "mine");
  ASSERT_EQ(::chown((tmp / "mine").c_str(), 0, 65534), 0);
  EXPECT_EQ(refused(tmp / "mine"), "") << "a foreign group without group write is harmless";
}

}  // namespace
}  // namespace kcd::rotation

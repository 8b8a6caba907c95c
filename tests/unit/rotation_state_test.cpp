// The persisted state file: round trip, missing and corrupt files.
#include "base/files.hpp"
#include "rotation/store/state_file.hpp"
#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace kcd::rotation {
namespace {

using namespace std::chrono_literals;

TEST(RotationState, RoundTripsEveryField) {
  testing::TempDir tmp;
  const SysTime t = std::chrono::sys_days{std::chrono::year{2026} / 11 / 22} + 1h + 2min + 3s + 456ms;
  State s;
  s.client.pending = PendingCsr{"node-csr-abc", "ff00", true, t};
  s.client.deadline = t + 100h;
  s.client.deadline_cert_sha256 = "aa";
  s.client.last_csr_created = t;
  s.client.next_csr_not_before = t + 1h;
  s.client.last_success = t - 1h;
  s.client.last_error = "csr x was denied";
  s.client.last_error_at = t;
  s.client.csrs_created = 7;
  s.serving.pending = PendingCsr{"node-csr-srv", "00ff", false, {}};
  ASSERT_TRUE(save_state(tmp.path(), s));
  struct stat st {};
  ASSERT_EQ(::stat((tmp / std::string(kStateFileName)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = load_state(tmp.path());
  ASSERT_TRUE(loaded) << loaded.error().format();
  EXPECT_EQ(*loaded, s);
}

TEST(RotationState, AFifoIsRefusedWithoutBlocking) {
  testing::TempDir tmp;
  ASSERT_EQ(::mkfifo((tmp / std::string(kStateFileName)).c_str(), 0600), 0);
  auto loaded = load_state(tmp.path());  // would block forever on a plain open()
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().format().find("not a regular file"), std::string::npos) << loaded.error().format();
}

// Issue 10, class 4: the state file is ours; a link planted on its name, or a file others can
// write, is not read (and the next save replaces it rather than writing through it).
TEST(RotationState, APlantedLinkOrAnOpenFileIsNotRead) {
  testing::TempDir tmp;
  State s;
  s.client.csrs_created = 3;
  ASSERT_TRUE(save_state(tmp.path(), s));
  const auto path = tmp / std::string(kStateFileName);
  std::filesystem::rename(path, tmp / "elsewhere.json");
  std::filesystem::create_symlink(tmp / "elsewhere.json", path);
  auto linked = load_state(tmp.path());
  ASSERT_FALSE(linked);
  EXPECT_NE(linked.error().format().find("is a symlink"), std::string::npos) << linked.error().format();
  ASSERT_TRUE(save_state(tmp.path(), s));
  EXPECT_FALSE(std::filesystem::is_symlink(path)) << "replaced, not written through";
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  auto open = load_state(tmp.path());
  ASSERT_FALSE(open);
  EXPECT_NE(open.error().format().find("mode 0666"), std::string::npos) << open.error().format();
}

TEST(RotationState, MissingFileIsAnEmptyStateWithoutWarning) {
  testing::TempDir tmp;
  auto loaded = load_state(tmp.path());
  ASSERT_TRUE(loaded) << loaded.error().format();
  EXPECT_EQ(*loaded, State{});
}

TEST(RotationState, CorruptFileIsReportedAndIgnored) {
  testing::TempDir tmp;
  ASSERT_TRUE(write_file_atomic(tmp / std::string(kStateFileName), "{not json", 0600));
  auto loaded = load_state(tmp.path());
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().kind, ErrorKind::Corrupt);
  EXPECT_NE(loaded.error().format().find("not valid JSON"), std::string::npos);
}

// Valid JSON of the wrong shape used to abort `status` and the daemon (SIGABRT from the JSON
// library): every field is checked, the file set aside as *.corrupt, and the state rebuilt.
TEST(RotationState, WrongTypesAreNamedAndTheFileSetAside) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"client": {"csrsCreated": "7"}})", "client.csrsCreated: expected a whole number"},
      {R"({"client": {"lastError": 42}})", "client.lastError: expected a string"},
      {R"({"serving": {"pendingCSR": {"name": ["x"]}}})", "serving.pendingCSR.name: expected a string"},
      {R"({"serving": {"pendingCSR": {"name": "n", "filed": "yes"}}})",
       "serving.pendingCSR.filed: expected true or false"},
      {R"({"client": {"rotationDeadline": "soon"}})", "client.rotationDeadline: not an RFC 3339 time"},
      {R"({"client": []})", "client: expected an object"},
      {R"({"client": {"csrsCreated": -1}})", "client.csrsCreated: expected a whole number"},
  };
  for (const auto& [text, why] : cases) {
    testing::TempDir tmp;
    const auto path = tmp / std::string(kStateFileName);
    ASSERT_TRUE(write_file_atomic(path, text, 0600));
    const auto loaded = load_state(tmp.path());
    ASSERT_FALSE(loaded) << text;
    EXPECT_EQ(loaded.error().kind, ErrorKind::Corrupt) << text;
    EXPECT_NE(loaded.error().format().find(why), std::string::npos)
        << text << " -> " << loaded.error().format();
    EXPECT_EQ(loaded.error().where.file, path.string()) << text;
    EXPECT_FALSE(std::filesystem::exists(path)) << text;
    EXPECT_EQ(testing::read_text(std::filesystem::path(path.string() + ".corrupt")), text);
  }
}

}  // namespace
}  // namespace kcd::rotation

// Unified diffs of the kubelet config change (`check --fix --dry-run`): the exact text for a
// typical patch, and for random edits a diff that, applied, gives the new text back.
#include "kubelet/diff.hpp"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <vector>

namespace kcd::kubelet {
namespace {

TEST(UnifiedDiff, ShowsAChangedValueAndAnInsertedKeyWithContext) {
  const std::string before =
      "apiVersion: v1\nkind: K\n# keep\nreadOnlyPort: 10255\na: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\n";
  const std::string after =
      "apiVersion: v1\nkind: K\n# keep\nreadOnlyPort: 0\na: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: "
      "7\nseccompDefault: true\n";
  EXPECT_EQ(unified_diff(before, after, "var/lib/kubelet/config.yaml"),
            "--- a/var/lib/kubelet/config.yaml\n+++ b/var/lib/kubelet/config.yaml\n"
            "@@ -1,7 +1,7 @@\n apiVersion: v1\n kind: K\n # keep\n-readOnlyPort: 10255\n+readOnlyPort: 0\n "
            "a: 1\n b: 2\n c: 3\n"
            "@@ -9,3 +9,4 @@\n e: 5\n f: 6\n g: 7\n+seccompDefault: true\n");
  EXPECT_EQ(unified_diff(before, before, "x"), "");
  EXPECT_EQ(unified_diff("", "a: 1\n", "x"), "--- a/x\n+++ b/x\n@@ -0,0 +1,1 @@\n+a: 1\n");
  EXPECT_EQ(unified_diff("a: 1", "a: 2", "x"),
            "--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n-a: 1\n\\ No newline at end of file\n+a: 2\n\\ No newline at "
            "end of file\n");
}

// Applies a unified diff made by unified_diff() to `before`.
std::string apply_diff(const std::string& before, const std::string& diff) {
  std::vector<std::string> in;
  std::istringstream b(before);
  for (std::string l; std::getline(b, l);) in.push_back(l);
  std::vector<std::string> out;
  std::size_t next = 0;  // next line of `in` not yet copied
  std::istringstream d(diff);
  std::string line;
  std::getline(d, line);
  std::getline(d, line);
  while (std::getline(d, line)) {
    if (line.rfind("@@ -", 0) == 0) {
      std::size_t start = std::stoul(line.substr(4));
      const std::size_t len = std::stoul(line.substr(line.find(',') + 1));
      if (len > 0) start -= 1;
      while (next < start) out.push_back(in[next++]);
      continue;
    }
    if (line[0] == ' ') out.push_back(in[next++]);
    if (line[0] == '-') next++;
    if (line[0] == '+') out.push_back(line.substr(1));
  }
  while (next < in.size()) out.push_back(in[next++]);
  std::string text;
  for (const auto& l : out) text += l + "\n";
  return text;
}

TEST(UnifiedDiff, AppliedToTheOldTextItGivesTheNewOneForRandomEdits) {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> lines;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) lines.push_back("k" + std::to_string(rng() % 12) + ": v");
    std::vector<std::string> edited = lines;
    const int edits = static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = edited.empty() ? 0 : rng() % (edited.size() + 1);
      switch (rng() % 3) {
        case 0:
          edited.insert(edited.begin() + static_cast<long>(at), "new" + std::to_string(e) + ": x");
          break;
        case 1:
          if (at < edited.size()) edited.erase(edited.begin() + static_cast<long>(at));
          break;
        default:
          if (at < edited.size()) edited[at] = "changed: " + std::to_string(e);
          break;
      }
    }
    std::string a, b;
    for (const auto& l : lines) a += l + "\n";
    for (const auto& l : edited) b += l + "\n";
    const std::string diff = unified_diff(a, b, "f");
    EXPECT_EQ(diff.empty(), a == b);
    EXPECT_EQ(apply_diff(a, diff), b) << "round " << round << "\n" << diff;
  }
}

}  // namespace
}  // namespace kcd::kubelet

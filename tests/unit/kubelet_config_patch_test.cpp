// The kubelet-config.yaml patcher over real-world shapes: golden files (kubeadm's generated
// file, a commented hand-written file with anchors, flow style, CRLF, unknown future fields),
// then the properties every output must have: idempotent, untouched lines kept byte for byte,
// the intended values when parsed, and malformed input refused with line:column.
//
// KCD_UPDATE_GOLDEN=1 rewrites the *.out.yaml files (review the diff before committing).
#include "kubelet/kubelet_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kcd::kubelet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kDir = fs::path(KCD_FIXTURES_DIR) / "kubelet-config";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

KubeletConfigPatch full_patch(Hardening h = Hardening::Cis) {
  KubeletConfigPatch p;
  p.tls_cert_file = "/var/lib/kubelet/pki/kubelet-server-current.pem";
  p.tls_private_key_file = "/var/lib/kubelet/pki/kubelet-server-current.pem";
  p.client_ca_file = "/etc/kubernetes/pki/ca.crt";
  p.hardening = h;
  p.kubelet_version = Version{1, 30, 0};  // accepts every key the patch writes
  return p;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

PatchResult patch_ok(const std::string& text, const KubeletConfigPatch& p, const std::string& name) {
  auto r = patch_kubelet_config(text, p, name);
  if (!r) ADD_FAILURE() << name << ": " << r.error().format();
  return r ? *r : PatchResult{};
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesTheReviewedOutput) {
  const std::string in = read(kDir / (GetParam() + ".in.yaml"));
  const fs::path out_file = kDir / (GetParam() + ".out.yaml");
  const auto r = patch_ok(in, full_patch(), GetParam() + ".in.yaml");
  ASSERT_FALSE(r.text.empty());
  if (std::getenv("KCD_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(out_file, std::ios::binary) << r.text;
  }
  ASSERT_TRUE(fs::exists(out_file)) << out_file << " missing: run with KCD_UPDATE_GOLDEN=1 and review it";
  EXPECT_EQ(r.text, read(out_file)) << "the patch of " << GetParam() << " changed; diff it against "
                                    << out_file;
  EXPECT_TRUE(r.changed);
  EXPECT_FALSE(r.changes.empty());
}

TEST_P(Golden, SecondRunChangesNothing) {
  const auto first = patch_ok(read(kDir / (GetParam() + ".in.yaml")), full_patch(), GetParam());
  const auto second = patch_ok(first.text, full_patch(), GetParam());
  EXPECT_FALSE(second.changed) << ::testing::PrintToString(second.changes);
  EXPECT_EQ(second.text, first.text);
}

TEST_P(Golden, ParsedResultHasEveryPatchedValueAndKeepsTheRest) {
  const std::string in = read(kDir / (GetParam() + ".in.yaml"));
  const auto r = patch_ok(in, full_patch(), GetParam());
  auto docs_in = YAML::LoadAll(in);
  auto docs = YAML::LoadAll(r.text);
  ASSERT_EQ(docs.size(), docs_in.size());
  const YAML::Node y = docs.front();
  EXPECT_EQ(y["kind"].as<std::string>(), "KubeletConfiguration");
  EXPECT_EQ(y["tlsCertFile"].as<std::string>(), "/var/lib/kubelet/pki/kubelet-server-current.pem");
  EXPECT_EQ(y["tlsPrivateKeyFile"].as<std::string>(), "/var/lib/kubelet/pki/kubelet-server-current.pem");
  EXPECT_EQ(y["authentication"]["x509"]["clientCAFile"].as<std::string>(), "/etc/kubernetes/pki/ca.crt");
  EXPECT_EQ(y["authentication"]["anonymous"]["enabled"].as<std::string>(), "false");
  EXPECT_EQ(y["authentication"]["webhook"]["enabled"].as<std::string>(), "true");
  EXPECT_EQ(y["authorization"]["mode"].as<std::string>(), "Webhook");
  EXPECT_EQ(y["readOnlyPort"].as<std::string>(), "0");
  EXPECT_EQ(y["tlsCipherSuites"].as<std::vector<std::string>>(), strong_cipher_suites());
  EXPECT_FALSE(y["rotateCertificates"].IsDefined());
  EXPECT_FALSE(y["serverTLSBootstrap"].IsDefined());
  // Every top-level key the operator had is still there (except the two we own).
  for (const auto& kv : docs_in.front()) {
    const auto key = kv.first.as<std::string>();
    if (key == "rotateCertificates" || key == "serverTLSBootstrap") continue;
    EXPECT_TRUE(y[key].IsDefined()) << key;
  }
}

TEST_P(Golden, EveryLineNotPatchedIsKeptByteForByteAndInOrder) {
  const std::string in = read(kDir / (GetParam() + ".in.yaml"));
  const auto r = patch_ok(in, full_patch(), GetParam());
  // The output's lines contain the input's lines as a subsequence, except lines that held a
  // patched key; comments always survive.
  const auto a = lines_of(in), b = lines_of(r.text);
  static const std::vector<std::string> patched = {"tlsCertFile",
                                                   "tlsPrivateKeyFile",
                                                   "clientCAFile",
                                                   "enabled",
                                                   "mode",
                                                   "readOnlyPort",
                                                   "tlsCipherSuites",
                                                   "TLS_",
                                                   "rotateCertificates",
                                                   "serverTLSBootstrap",
                                                   "RotateKubeletServerCertificate",
                                                   "authentication",
                                                   "authorization",
                                                   "featureGates",
                                                   "x509",
                                                   "anonymous",
                                                   "webhook",
                                                   "{",
                                                   "- ",
                                                   "eventRecordQPS",
                                                   "makeIPTablesUtilChains",
                                                   "streamingConnectionIdleTimeout"};
  size_t j = 0;
  for (const auto& line : a) {
    bool touched = false;
    for (const auto& k : patched) touched = touched || line.find(k) != std::string::npos;
    size_t k = j;
    while (k < b.size() && b[k] != line) ++k;
    if (k < b.size()) {
      j = k + 1;
    } else {
      EXPECT_TRUE(touched) << GetParam() << ": the line '" << line << "' is gone";
    }
    if (line.find('#') != std::string::npos) {
      const auto comment = line.substr(line.find('#'));
      EXPECT_THAT(r.text, HasSubstr(comment)) << GetParam() << ": comment lost";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Golden, ::testing::Values("kubeadm", "commented", "flow", "crlf", "future"),
                         [](const auto& i) { return i.param; });

TEST(KubeletConfigPatch, CrlfFileKeepsCrlfOnEveryLine) {
  const auto r = patch_ok(read(kDir / "crlf.in.yaml"), full_patch(), "crlf");
  size_t lf = 0, crlf = 0;
  for (size_t i = 0; i < r.text.size(); ++i) {
    if (r.text[i] == '\n') {
      ++lf;
      if (i > 0 && r.text[i - 1] == '\r') ++crlf;
    }
  }
  EXPECT_GT(lf, 5u);
  EXPECT_EQ(crlf, lf);
}

TEST(KubeletConfigPatch, MissingFileBecomesANewConfiguration) {
  const auto r = patch_ok("", full_patch(), "/var/lib/kubelet/config.yaml");
  EXPECT_TRUE(r.changed);
  const auto y = YAML::Load(r.text);
  EXPECT_EQ(y["apiVersion"].as<std::string>(), "kubelet.config.k8s.io/v1beta1");
  EXPECT_EQ(y["kind"].as<std::string>(), "KubeletConfiguration");
  EXPECT_EQ(y["readOnlyPort"].as<int>(), 0);
  EXPECT_EQ(y["authentication"]["x509"]["clientCAFile"].as<std::string>(), "/etc/kubernetes/pki/ca.crt");
  EXPECT_EQ(r.text, patch_ok(r.text, full_patch(), "again").text);
}

TEST(KubeletConfigPatch, MalformedYamlNamesLineAndColumnAndReturnsNothing) {
  const std::string bad =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous: "
      "[enabled\n";
  auto r = patch_kubelet_config(bad, full_patch(), "/var/lib/kubelet/config.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("/var/lib/kubelet/config.yaml:"));
  EXPECT_EQ(r.error().where.line, 5);
}

std::string kubelet_header() {
  return "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
}

TEST(KubeletConfigPatch, ManyKeysArePatchedAndEveryOtherLineKept) {
  // 10,000 unknown keys (the bench measures 100,000): the edit and the compare stay linear.
  std::string text = kubelet_header() + "readOnlyPort: 10255\n";
  for (int i = 0; i < 10000; ++i) text += "k" + std::to_string(i) + ": " + std::to_string(i) + "\n";
  const PatchResult r = patch_ok(text, full_patch(), "many.yaml");
  EXPECT_TRUE(r.changed);
  EXPECT_THAT(r.text, HasSubstr("\nreadOnlyPort: 0\n"));
  EXPECT_THAT(r.text, HasSubstr("\nk9999: 9999\n"));
}

TEST(KubeletConfigPatch, BillionLaughsIsRefusedNamingTheFileAndTheLimit) {
  std::string text = kubelet_header() + "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) text += (k ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  auto r = patch_kubelet_config(text, full_patch(), "/var/lib/kubelet/config.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("/var/lib/kubelet/config.yaml:"));
  EXPECT_THAT(r.error().message, HasSubstr("over a limit: more than 1000000 YAML nodes"));
  EXPECT_THAT(r.error().message, HasSubstr("left untouched"));
}

TEST(KubeletConfigPatch, AFileOverTheSizeLimitIsRefusedBeforeParsing) {
  std::string text = kubelet_header();
  while (text.size() <= kMaxKubeletConfigBytes) text += "# " + std::string(78, 'x') + "\n";
  auto r = patch_kubelet_config(text, full_patch(), "/var/lib/kubelet/config.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(),
              HasSubstr("/var/lib/kubelet/config.yaml: over a limit: larger than 262144 bytes"));
}

// Found by the kubelet_config fuzz target: the editor works line by line, so a value folded over
// several lines was cut (a key appended after it read back as part of it, or the text no longer
// parsed). Refused, naming the line where the value starts.
TEST(KubeletConfigPatch, ValueContinuedOnTheNextLineIsRefusedAtItsFirstLine) {
  const std::string head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
  const struct {
    std::string text;
    int line;
  } cases[] = {
      {head + "syncFrequency: 0s\nvolumeStatsAggPerio", 4},  // yaml-cpp reads it as a key
      {head + "staticPodPath: /etc/kubernetes\n  /manifests\nreadOnlyPort: 0\n", 3},
      {head + "logging:\n  format: \"text\n    more\"\n", 4},
      {head + "clusterDNS:\n- 'a\n  b'\n", 4},
      {head + "authentication:\nnotAKey\n", 4},  // a value no deeper than its key
      // Folded across a blank line: the value holds a newline there (found by the campaign).
      {head + "staticPodPath: /etc/kubernetes\n\n  manifests\nreadOnlyPort: 0\n", 3},
      // A last key whose only ':' is in its comment (found by the strict campaign: the patch
      // got as far as its own read-back refusal, "internal error").
      {head + "w #i: :", 3},
      {head + "'&'''#: }", 3},  // a quoted key with no ':' after it
      // An anchored value that starts on the next line.
      {head + "tlsCertFile: &taa\n \"/x\"\n", 3},
      {head + "tlsCertFile: &taa # c\n  /x\n", 3},
      // A value on the line below its key, deeper.
      {head + "readOnlyPort:\n  10255\n", 4},
  };
  for (const auto& c : cases) {
    auto r = patch_kubelet_config(c.text, KubeletConfigPatch{}, "/var/lib/kubelet/config.yaml");
    ASSERT_FALSE(r.has_value()) << c.text;
    EXPECT_EQ(r.error().where.line, c.line) << c.text;
    EXPECT_NE(r.error().message.find("continues on the next line"), std::string::npos) << r.error().message;
  }
  // Tags (third strict-campaign class: a tag holding ':' on a last line read leniently).
  for (const std::string& tagged :
       {head + "# c\n!u:x", head + "readOnlyPort: !!int 0\n", head + "!!str key: 1\n"}) {
    auto r = patch_kubelet_config(tagged, KubeletConfigPatch{}, "/var/lib/kubelet/config.yaml");
    ASSERT_FALSE(r.has_value()) << tagged;
    EXPECT_EQ(r.error().message.find("internal error"), std::string::npos) << r.error().message;
    if (tagged.find("!!") != std::string::npos) {
      EXPECT_THAT(r.error().message, HasSubstr("a YAML tag"));
    }
  }
  // One-line values, quoted ones with escapes and comments included, are patched as before.
  auto ok = patch_kubelet_config(head + "staticPodPath: \"/etc/k8s \\\" x\" # c\nclusterDNS: ['a''b']\n" +
                                     "\"key #x\": 1 # a: b\na#b: 2\n'it''s: #': 3\n",
                                 KubeletConfigPatch{}, "/var/lib/kubelet/config.yaml");
  EXPECT_TRUE(ok.has_value()) << ok.error().format();
}

// Found by the kubelet_config fuzz target: a lone CR is a line break to YAML but not to the
// line-based editor, so a key written after it landed inside another line.
TEST(KubeletConfigPatch, ControlCharactersAreRefusedAtTheirLine) {
  const std::string head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
  for (const std::string& bad :
       {std::string("\r"), std::string(1, '\0'), std::string("\x1b"), std::string("\x7f")}) {
    const std::string text = head + "readOnlyPort: 0\nstaticPodPath: /a" + bad + "b\n";
    auto r = patch_kubelet_config(text, KubeletConfigPatch{}, "/var/lib/kubelet/config.yaml");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().where.line, 4);
    EXPECT_NE(r.error().message.find("control character"), std::string::npos) << r.error().message;
  }
  // Bytes that are not UTF-8 (yaml-cpp reads them as other text).
  for (const std::string& bad :
       {std::string("\xff"), std::string("\xc3"), std::string("\xe0\x80\x80"), std::string("\xed\xa0\x80")}) {
    const std::string text = head + "readOnlyPort: 0\nstaticPodPath: /a" + bad + "\n";
    auto r = patch_kubelet_config(text, KubeletConfigPatch{}, "/var/lib/kubelet/config.yaml");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().where.line, 4);
    EXPECT_NE(r.error().message.find("not UTF-8"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(patch_kubelet_config(head + "# caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n",
                                   KubeletConfigPatch{}, "c.yaml")
                  .has_value());
  // CRLF line ends and tabs in comments are not control characters here.
  auto ok = patch_kubelet_config(
      "apiVersion: kubelet.config.k8s.io/v1beta1\r\nkind: KubeletConfiguration\r\n# a\tb\r\n",
      KubeletConfigPatch{}, "/var/lib/kubelet/config.yaml");
  EXPECT_TRUE(ok.has_value()) << ok.error().format();
}

// Found by the kubelet_config fuzz target: with CRLF on some lines and LF on others, every line
// was rewritten with CRLF, lines the patch does not touch included.
TEST(KubeletConfigPatch, MixedLineEndsAreRefusedAtTheFirstThatDiffers) {
  const std::string text =
      "apiVersion: kubelet.config.k8s.io/v1beta1\r\nkind: KubeletConfiguration\r\n# edited "
      "elsewhere\nreadOnlyPort: 0\r\n";
  auto r = patch_kubelet_config(text, KubeletConfigPatch{}, "/var/lib/kubelet/config.yaml");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().where.line, 3);
  EXPECT_NE(r.error().message.find("line ends mixed"), std::string::npos) << r.error().message;
}

// Found by the kubelet_config fuzz target: yaml-cpp reads an indented top-level mapping up to the
// first line indented less and ignores the rest, so the editor's read-back check saw only part.
TEST(KubeletConfigPatch, IndentedTopLevelKeysAreRefusedAtTheirFirstLine) {
  const std::string text =
      "# comment\n  apiVersion: kubelet.config.k8s.io/v1beta1\n  kind: KubeletConfiguration\nreadOnlyPort: "
      "10255\n";
  auto r = patch_kubelet_config(text, KubeletConfigPatch{}, "/var/lib/kubelet/config.yaml");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().where.line, 2);
  EXPECT_NE(r.error().message.find("indented"), std::string::npos) << r.error().message;
}

// Found by the kubelet_config fuzz target: with a second document after "---", the read-back
// check compared only the first while the editor edited keys in either.
TEST(KubeletConfigPatch, MoreThanOneDocumentIsRefusedAtTheSecond) {
  const std::string doc = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
  auto r = patch_kubelet_config(doc + "---\n" + doc, KubeletConfigPatch{}, "/var/lib/kubelet/config.yaml");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().where.line, 3);  // its "---"
  EXPECT_NE(r.error().message.find("more than one YAML document"), std::string::npos) << r.error().message;
  EXPECT_TRUE(patch_kubelet_config("---\n" + doc + "...\n", KubeletConfigPatch{}, "c.yaml").has_value());
}

// A document the patch refuses as a whole: at `line`, saying `says`, the file left untouched.
struct RefusedAt {
  std::string text;
  int line;
  const char* says;
};

void expect_refused(const std::vector<RefusedAt>& cases, const KubeletConfigPatch& patch) {
  for (const auto& c : cases) {
    auto r = patch_kubelet_config(c.text, patch, "/var/lib/kubelet/config.yaml");
    ASSERT_FALSE(r.has_value()) << c.text;
    EXPECT_EQ(r.error().where.line, c.line) << c.text;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("it was left untouched"), std::string::npos) << r.error().message;
  }
}

// Found by the kubelet_config fuzz target: a key written twice (yaml-cpp keeps both, the editor
// edits the first, the read-back compares the other) and keys that are not strings.
TEST(KubeletConfigPatch, DuplicateAndNonStringKeysAreRefusedAtTheirLine) {
  const std::string head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
  expect_refused(
      {
          {head + "readOnlyPort: 10255\nkind: KubeletConfiguration\n", 4, "\"kind\" is written twice"},
          {head + "authentication:\n  anonymous: {enabled: true}\n  anonymous: {enabled: false}\n", 5,
           "written twice"},
          {head + "? [a, b]\n: 1\n", 3, "an explicit key"},
          {head + "{a: 1}: 1\n", 3, "not a string"},
          {head + "---\n" + head, 3, "more than one YAML document"},
          {head + "---\nkind: [\n", 5, "invalid YAML after the first document"},
          {head + "clusterDNS:\n%x y\n- 10.96.0.10\n", 4, "YAML directive"},
      },
      KubeletConfigPatch{});
}

// Found by the strict campaign: the line editor finds keys by their text, yaml-cpp reads an
// anchor, alias or explicit key where a key belongs otherwise (a key appended after "&a" on a line
// of its own became part of that anchored mapping; an anchor name may end in ':'). Each is
// refused at its line, the file untouched.
TEST(KubeletConfigPatch, AnAnchorAliasOrExplicitKeyWhereAKeyBelongsIsRefusedAtItsLine) {
  const std::string head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
  expect_refused(
      {
          {"&e\n apiVersion: kubelet.config.k8s.io/v1beta1\n kind: KubeletConfiguration\n", 1, "an anchor"},
          {head + "&fo~: '&'#&3':", 3, "an anchor where a key belongs"},  // no final line end: it parses
          {head + "&a readOnlyPort: 0\n", 3, "an anchor where a key belongs"},
          {head + "x: &k y\n*k : 1\n", 4, "an alias where a key belongs"},
          {head + "? readOnlyPort\n: 0\n", 3, "an explicit key"},
          {head + "authentication:\n  ? anonymous\n  : {enabled: true}\n", 4, "an explicit key"},
          {head + "authentication:\n  &x\n  anonymous: {enabled: true}\n", 4, "an anchor"},
          {"!\n" + head, 1,
           "a YAML tag"},  // the non-specific tag on the document (removing its last key read as null)
          {head + "!k readOnlyPort: 0\n", 3, "a YAML tag"},
          {head + "aN: !\"6d#\"\n", 3, "a YAML tag"},  // "!" alone on a value
          {head + "aN: &x ! v\n", 3, "a YAML tag"},
          {head + "a: &#x\n\n|\n", 5, "a value continues on the next line"},
          {head + "a:\n ~\n", 4, "a value continues on the next line"},
          {head + "ka:\t&Pids\n\n      \"  \n\n", 3,
           "a value continues on the next line"},  // unclosed, read as ""
          {head + "a:\n\n# c\nnull\n", 6, "a value continues on the next line"},
          {head + "a\t:\t N!r\n", 3, "a tab in the indentation or before a key's ':'"},
          {head + "a:\n \t\nb: 1\n", 4, "a tab in the indentation"},  // a line of blanks
      },
      full_patch());
  // Anchors after a key, and a tab inside a value, are patched as before.
  for (const std::string& ok : {head + "empty:\n\nnullish: nothing\nafter: ~\nalso:\nnull_x: 1\nlast:\n~x: "
                                       "2\nanchored: &n\nq: &e \"\"\n",
                                head + "x: &k y\nz: *k\n", head + "list:\n- &i a\n- *i\n",
                                head + "list:\n-\ta\n", head + "a: \"x\ty\"\nb: c\td\n"}) {
    auto r = patch_kubelet_config(ok, full_patch(), "/var/lib/kubelet/config.yaml");
    EXPECT_TRUE(r.has_value()) << ok << (r ? "" : r.error().format());
  }
  // A block scalar is refused at its key (its text depends on what follows it, so a key added
  // after it would change it: the strict campaign); the same characters in its text are not
  // taken for an anchor, alias, explicit key or tab.
  for (const std::string& block : {head + "note: |\n  &not an anchor\n  ? nor a key\n",
                                   head + "note: >-  # folded\n  *text\nevictionHard: {a: b}\n",
                                   head + "note: |\n  \tindented text\n", head + "note: &a |\n  x\n"}) {
    auto r = patch_kubelet_config(block, full_patch(), "/var/lib/kubelet/config.yaml");
    ASSERT_FALSE(r.has_value()) << block;
    EXPECT_EQ(r.error().where.line, 3) << block;
    EXPECT_NE(r.error().message.find("a block scalar (| or >)"), std::string::npos) << r.error().message;
  }
}

TEST(KubeletConfigPatch, AnotherKindIsRefused) {
  auto r = patch_kubelet_config("apiVersion: v1\nkind: ConfigMap\ndata: {}\n", full_patch(), "x.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("KubeletConfiguration"));
}

TEST(KubeletConfigPatch, NonMappingSectionIsRefusedNotOverwritten) {
  auto r = patch_kubelet_config(
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication: yes\n",
      full_patch(), "x.yaml");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().format(), HasSubstr("authentication"));
}

// Found by the kubelet_config fuzz target: a scalar written on the line after its key looked like
// a nested block to the text editor, and building the intended document threw (YAML::BadSubscript
// escaped the patch).
TEST(KubeletConfigPatch, ScalarOnTheNextLineIsRefusedNotThrown) {
  auto r = patch_kubelet_config(
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n"
      "    enabled6 trUe\n",
      full_patch(), "x.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().where.line, 5);
  // A scalar below its key, where a mapping was meant: the missing ':' is named.
  EXPECT_THAT(r.error().message, HasSubstr("(or a key has no ':')"));
}

// Found by the kubelet_config fuzz target: an alias inside the mapping its anchor names makes a
// cycle; comparing the patched document with the intended one recursed until the stack overflowed.
TEST(KubeletConfigPatch, AliasCycleIsRefusedNotRecursedForever) {
  const std::string head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
  const struct {
    std::string body;
    int line;  // the anchor of the node that contains itself
  } cases[] = {{"kubeReserved: &limits\n  cpu: 500m\n  again: *limits\n", 3},
               {"kubeReserved: &l\n- a\n- *l\n", 3}};
  for (const auto& c : cases) {
    auto r = patch_kubelet_config(head + c.body, full_patch(), "x.yaml");
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().where.line, c.line) << c.body;
    // The bounded loader (base/yaml) meets the cycle as unbounded nesting, before the editor does.
    EXPECT_THAT(r.error().message, HasSubstr("over a limit: nested more than 64 levels deep")) << c.body;
  }
  // A shared (acyclic) alias is fine.
  auto ok = patch_kubelet_config(head + "kubeReserved: &limits\n  cpu: 500m\nsystemReserved: *limits\n",
                                 full_patch(), "x.yaml");
  EXPECT_TRUE(ok) << ok.error().format();
}

TEST(KubeletConfigPatch, WithoutServingCertificateTheTlsFilesAreNotTouched) {
  auto p = full_patch();
  p.tls_cert_file.reset();
  p.tls_private_key_file.reset();
  const std::string in =
      "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\ntlsCertFile: /etc/old.crt\n";
  const auto r = patch_ok(in, p, "x");
  EXPECT_EQ(YAML::Load(r.text)["tlsCertFile"].as<std::string>(), "/etc/old.crt");
  EXPECT_FALSE(YAML::Load(r.text)["tlsPrivateKeyFile"].IsDefined());
}

TEST(KubeletConfigPatch, HardeningLevels) {
  const std::string in = read(kDir / "kubeadm.in.yaml");
  const auto off = patch_ok(in, full_patch(Hardening::Off), "off");
  const auto y_off = YAML::Load(off.text);
  const auto y_in = YAML::Load(in);
  EXPECT_EQ(y_off["readOnlyPort"].IsDefined(), y_in["readOnlyPort"].IsDefined());
  EXPECT_FALSE(y_off["tlsCipherSuites"].IsDefined());
  EXPECT_EQ(y_off["authentication"]["x509"]["clientCAFile"].as<std::string>(), "/etc/kubernetes/pki/ca.crt");

  const auto minimal = YAML::Load(patch_ok(in, full_patch(Hardening::Minimal), "minimal").text);
  EXPECT_EQ(minimal["authentication"]["anonymous"]["enabled"].as<std::string>(), "false");
  EXPECT_EQ(minimal["authorization"]["mode"].as<std::string>(), "Webhook");
  EXPECT_EQ(minimal["readOnlyPort"].as<int>(), 0);
  EXPECT_FALSE(minimal["tlsCipherSuites"].IsDefined());

  const auto cis = YAML::Load(patch_ok(in, full_patch(Hardening::Cis), "cis").text);
  EXPECT_TRUE(cis["tlsCipherSuites"].IsDefined());
}

TEST(KubeletConfigPatch, ExplicitFalseRotationKeysAreRemovedNotRewritten) {
  const std::string in =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nrotateCertificates: false\n"
      "serverTLSBootstrap: true\nfeatureGates:\n  RotateKubeletServerCertificate: false\n  Other: true\n";
  const auto r = patch_ok(in, full_patch(), "x");
  EXPECT_THAT(r.text, ::testing::Not(HasSubstr("rotateCertificates")));
  EXPECT_THAT(r.text, ::testing::Not(HasSubstr("serverTLSBootstrap")));
  EXPECT_THAT(r.text, ::testing::Not(HasSubstr("RotateKubeletServerCertificate")));
  EXPECT_THAT(r.text, HasSubstr("  Other: true\n"));
}

TEST(KubeletConfigPatch, OperatorsOwnStrongerSettingsAreKept) {
  // A cipher list that is a subset of the strong list, or pod limits already set, stay.
  const std::string in =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\npodPidsLimit: 1024\n"
      "seccompDefault: false\n";
  const auto y = YAML::Load(patch_ok(in, full_patch(), "x").text);
  EXPECT_EQ(y["podPidsLimit"].as<int>(), 1024);
  EXPECT_EQ(y["seccompDefault"].as<std::string>(), "false");
}

// eventRecordQPS is an int32 for the kubelet, whose YAML reader takes 0x10, +5, 1_000 and 1e3:
// those stay. "5x" was read as 5 and kept (the kubelet refuses the file); what is negative, past
// int32 or not a number to its last character now gets CIS's 50.
TEST(KubeletConfigPatch, EventRecordQpsIsReadExactly) {
  const std::string head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
  for (const auto& [value, want] :
       std::vector<std::pair<std::string, std::string>>{{"5", "5"},
                                                        {"0", "0"},
                                                        {"0x10", "0x10"},
                                                        {"+5", "+5"},
                                                        {"1_000", "1_000"},
                                                        {"1e3", "1e3"},
                                                        {"-1", "50"},
                                                        {"5x", "50"},
                                                        {"inf", "50"},
                                                        {"99999999999999999999", "50"}}) {
    const auto y = YAML::Load(patch_ok(head + "eventRecordQPS: " + value + "\n", full_patch(), value).text);
    EXPECT_EQ(y["eventRecordQPS"].as<std::string>(), want) << value;
  }
}

}  // namespace
}  // namespace kcd::kubelet

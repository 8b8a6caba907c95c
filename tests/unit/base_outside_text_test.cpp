// Issue 10, class 10: text from outside is redacted, escaped and bounded before it is shown or
// stored; issue 10, class 7: YAML scalars we write read back as the same string.
#include "base/outside_text.hpp"
#include "base/yaml_text.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace kcd {
namespace {

TEST(OutsideText, PrintableTextAndUtf8PassUnchanged) {
  EXPECT_EQ(outside_text("certificate denied by policy"), "certificate denied by policy");
  EXPECT_EQ(outside_text("Zertifikat \xc3\xbc\x62\x65r \xe2\x82\xac"),
            "Zertifikat \xc3\xbc\x62\x65r \xe2\x82\xac");
}

TEST(OutsideText, ControlCharactersCannotMoveTheCursorOrForgeALine) {
  EXPECT_EQ(outside_text("red \x1b[31mALERT\x1b[0m"), "red \\x1b[31mALERT\\x1b[0m");
  EXPECT_EQ(outside_text("one\nkubelet-certd: renewed client\r\tx"),
            "one\\nkubelet-certd: renewed client\\r\\tx");
  EXPECT_EQ(outside_text(std::string("nul\0del\x7f", 8)), "nul\\x00del\\x7f");
  EXPECT_EQ(outside_text("c1 \xc2\x9b"
                         "31m"),
            "c1 \\xc2\\x9b31m")
      << "C1 CSI in UTF-8";
  EXPECT_EQ(outside_text("bidi \xe2\x80\xae"
                         "txt"),
            "bidi \\xe2\\x80\\xaetxt")
      << "right-to-left override";
}

TEST(OutsideText, BrokenUtf8IsEscapedSoJsonCanHoldIt) {
  EXPECT_EQ(outside_text("bad \xff\xfe end"), "bad \\xff\\xfe end");
  EXPECT_EQ(outside_text("cut \xe2\x82"), "cut \\xe2\\x82");
  EXPECT_EQ(outside_text("overlong \xc0\xaf"), "overlong \\xc0\\xaf");
  EXPECT_EQ(outside_text("surrogate \xed\xa0\x80"), "surrogate \\xed\\xa0\\x80");
}

TEST(OutsideText, SecretsAreRedacted) {
  EXPECT_EQ(outside_text("token abcdef.0123456789abcdef is invalid"), "token <redacted token> is invalid");
  EXPECT_EQ(outside_text("Authorization: Bearer eyJhbGciOi.xyz rejected"),
            "Authorization: Bearer <redacted> rejected");
  EXPECT_EQ(outside_text("-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----"),
            "<redacted private key>");
}

TEST(OutsideText, LongTextIsCutAtACharacterBoundary) {
  const std::string long_text = std::string(10, 'a') + "\xc3\xbc" + std::string(5000, 'b');
  const std::string shown = outside_text(long_text, 11);
  EXPECT_EQ(shown, std::string(10, 'a') + "...(cut; 5012 bytes in all)");
  EXPECT_LE(outside_text(std::string(1 << 20, 'x')).size(), 1024u + 40u);
}

TEST(YamlText, PlainOnlyWhenNoReaderCanReadItAsSomethingElse) {
  for (const char* plain : {"/var/lib/kubelet/pki/kubelet-client-current.pem", "https://10.0.0.1:6443", "v1",
                            "default-cluster", "LS0tLS1CRUdJTi+/=="}) {
    EXPECT_EQ(yaml_scalar(plain), plain);
  }
  for (const char* special :
       {"yes",  "On",      "NULL",   "y",     "~",          "0x1f",  "1:20",     "123",
        ".inf", "",        "a b",    "/a: b", "/x #c",      "'q'",   "\"q\"",    "/a\nb",
        "-x",   "&anchor", "*alias", "!tag",  "/tab\there", "/end:", "/\xc3\xbc"}) {
    const std::string out = yaml_scalar(special);
    EXPECT_EQ(out.front(), '"') << special << " -> " << out;
    const YAML::Node n = YAML::Load("k: " + out);
    EXPECT_EQ(n["k"].Scalar(), special) << out;
  }
}

}  // namespace
}  // namespace kcd

// The text-preserving YAML editor on its own: cases the kubelet_config fuzz target found (each
// failed before its fix).
#include "kubelet/yaml_edit.hpp"

#include <gtest/gtest.h>

namespace kcd::kubelet {
namespace {

TEST(KubeletYamlEdit, RemovingAMissingKeyInsideAFlowMappingChangesNothing) {
  const std::string text = "kind: KubeletConfiguration\nfeatureGates: {GracefulNodeShutdown: true}\n";
  YamlText doc(text);
  auto nested = doc.remove({"featureGates", "authentication", "clientCAFile"});
  ASSERT_TRUE(nested.has_value());
  EXPECT_FALSE(*nested);
  auto direct = doc.remove({"featureGates", "RotateKubeletServerCertificate"});
  ASSERT_TRUE(direct.has_value());
  EXPECT_FALSE(*direct);
  EXPECT_EQ(doc.text(), text);
}

TEST(KubeletYamlEdit, RemovingTheLastLineWithoutALineEndKeepsThePreviousLineWhole) {
  YamlText crlf("kind: KubeletConfiguration\r\nreadOnlyPovt: 1,255\r\nrotateCertificates: ");
  ASSERT_TRUE(crlf.remove({"rotateCertificates"}).value());
  EXPECT_EQ(crlf.text(), "kind: KubeletConfiguration\r\nreadOnlyPovt: 1,255\r\n");
  YamlText lf("a: 1\nb:\n  c: 2");
  ASSERT_TRUE(lf.remove({"b"}).value());
  EXPECT_EQ(lf.text(), "a: 1\n");
  YamlText kept("a: 1\nb: 2");  // a file without a final line end keeps that when its end stays
  ASSERT_TRUE(kept.remove({"a"}).value());
  EXPECT_EQ(kept.text(), "b: 2");
}

TEST(KubeletYamlEdit, RemovingAKeyInsideAFlowMappingSaysSo) {
  YamlText doc("featureGates: {RotateKubeletServerCertificate: false, A: true}\n");
  auto r = doc.remove({"featureGates", "RotateKubeletServerCertificate"});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(*r);
  EXPECT_EQ(doc.text(), "featureGates: {A: true}\n");
}

// "...key" and "---key" are keys, not document markers.
TEST(KubeletYamlEdit, ALineStartingWithThreeDotsIsAKeyNotADocumentEnd) {
  YamlText doc("...a: 1\nb: 2\n");
  ASSERT_TRUE(doc.set({"...a"}, "3").has_value());
  ASSERT_TRUE(doc.set({"c"}, "4").has_value());
  EXPECT_EQ(doc.text(), "...a: 3\nb: 2\nc: 4\n");
}

// A closing "..." with a comment on it, or comment lines after it, still ends the document: new
// root-level keys go before it (found by the strict kubelet_config campaign: they landed in a
// second document).
TEST(KubeletYamlEdit, NewKeysGoBeforeAClosingDocumentEndFollowedByComments) {
  YamlText doc("a: 1\n... # end\n#[[[[\n");
  ASSERT_TRUE(doc.set({"b"}, "2").has_value());
  EXPECT_EQ(doc.text(), "a: 1\nb: 2\n... # end\n#[[[[\n");
  YamlText plain("a: 1\n# last words\n\n");
  ASSERT_TRUE(plain.set({"b"}, "2").has_value());
  EXPECT_EQ(plain.text(), "a: 1\n# last words\nb: 2\n\n") << "without a '...', as before";
}

// Several closing "..." with comments between them: the first ends the document, and new keys
// go before it (the strict campaign: a key put before the last one landed in a second document).
TEST(KubeletYamlEdit, NewKeysGoBeforeTheFirstOfSeveralDocumentEnds) {
  YamlText doc("a: 1\r\n...\r\n... # w\r\n#c\r\n... # x\r\n#d\r\n");
  ASSERT_TRUE(doc.set_list({"x509", "x509"}, {"/a/b", "x"}).has_value());
  EXPECT_EQ(doc.text(),
            "a: 1\r\nx509:\r\n  x509:\r\n  - /a/b\r\n  - x\r\n...\r\n... # w\r\n#c\r\n... # x\r\n#d\r\n");
}

// Removing the document's only key leaves "{}": an empty document reads back as null, not as an
// empty mapping (the strict campaign). Comments stay.
TEST(KubeletYamlEdit, RemovingTheOnlyKeyLeavesAnEmptyMapping) {
  YamlText doc("# head\na: 1\n# tail\n");
  ASSERT_TRUE(doc.remove({"a"}).value());
  EXPECT_EQ(doc.text(), "# head\n{}\n# tail\n");
  YamlText nested("a:\n  b: 1\n");
  ASSERT_TRUE(nested.remove({"a"}).value());
  EXPECT_EQ(nested.text(), "{}\n");
  YamlText two("a: 1\nb: 2\n");  // a key left: as before
  ASSERT_TRUE(two.remove({"a"}).value());
  EXPECT_EQ(two.text(), "b: 2\n");
}

// A value that is only an anchor, with the sequence below it at the key's indentation, and a
// sequence item written "-<tab>": the items are the key's block (the strict campaign found them
// left behind when the value was set or the key removed).
TEST(KubeletYamlEdit, AnAnchoredOrTabbedSequenceBelowItsKeyIsItsBlock) {
  YamlText anchored("a: &x\n- 1\n- 2\nb: 3\n");
  ASSERT_TRUE(anchored.set({"a"}, "Webhook").has_value());
  EXPECT_EQ(anchored.text(), "a: &x Webhook\nb: 3\n");
  YamlText listed("a: &x # c\n- 1\nb: 3\n");
  ASSERT_TRUE(listed.set_list({"a"}, {"0", "x"}).has_value());
  EXPECT_EQ(listed.text(), "a: &x # c\n- 0\n- x\nb: 3\n");
  YamlText flow("a: &x [1]\n");
  ASSERT_TRUE(flow.set_list({"a"}, {"0", "x"}).has_value());
  EXPECT_EQ(flow.text(), "a: &x [0, x]\n");
  YamlText tabbed("a:\n-\teventRecordQPS\nb: 3\n");
  ASSERT_TRUE(tabbed.remove({"a"}).value());
  EXPECT_EQ(tabbed.text(), "b: 3\n");
}

}  // namespace
}  // namespace kcd::kubelet

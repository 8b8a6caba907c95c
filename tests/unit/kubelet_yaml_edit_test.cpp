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

}  // namespace
}  // namespace kcd::kubelet

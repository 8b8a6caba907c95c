// Nodes, Leases and Events: parsed from the recorded apiserver answers, and written in the shape
// of the recorded requests.
#include "daemon/api/cluster_types.hpp"
#include "tests/support/subprocess.hpp"

#include "base/rfc3339.hpp"

#include <gtest/gtest.h>

namespace kcd::api {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kApi = fs::path(KCD_FIXTURES_DIR) / "k8s-api";

json fixture(const std::string& name) {
  return json::parse(testing::read_text(kApi / name));
}
int status_of(const json& f) {
  return f["response"]["status"].get<int>();
}
std::string body_of(const json& f) {
  return f["response"]["body"].dump();
}

TEST(ApiNode, AddressesOfARecordedNode) {
  const json f = fixture("node-list-fieldselector-200-as-approver.json");
  const std::string item = f["response"]["body"]["items"][0].dump();
  json node = json::parse(item);
  node["kind"] = "Node";  // list items carry no kind of their own
  auto n = node_from_response(200, node.dump(), "");
  ASSERT_TRUE(n) << n.error().format();
  EXPECT_EQ(n->name, "n1");
  ASSERT_EQ(n->addresses.size(), 2u);
  EXPECT_EQ(n->addresses[0].type, "InternalIP");
  EXPECT_EQ(n->addresses[0].address, "10.0.0.5");
  EXPECT_EQ(n->addresses[1].type, "Hostname");
  EXPECT_EQ(n->addresses[1].address, "n1");
  // A Node whose kubelet has not reported yet has no addresses.
  const json own = fixture("node-get-own-200-as-node.json");
  auto fresh = node_from_response(status_of(own), body_of(own), "");
  ASSERT_TRUE(fresh) << fresh.error().format();
  EXPECT_EQ(fresh->name, "n1");
  EXPECT_TRUE(fresh->addresses.empty());
}

TEST(ApiNode, MissingNodeIsNotFoundAndOddShapesAreErrors) {
  const json f = fixture("node-get-own-404.json");
  auto n = node_from_response(status_of(f), body_of(f), "");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().kind, ErrorKind::NotFound);
  EXPECT_FALSE(node_from_response(200, R"({"kind":"Node","status":{"addresses":"x"}})", ""));
  EXPECT_FALSE(node_from_response(200, R"({"kind":"Pod"})", ""));
  EXPECT_FALSE(node_from_response(200, "[]", ""));
}

TEST(ApiLease, RoundTripsTheRecordedCreateAndReadsAnswers) {
  const json create = fixture("lease-create-201.json");
  auto created = lease_from_response(status_of(create), body_of(create), "", 201);
  ASSERT_TRUE(created) << created.error().format();
  EXPECT_EQ(created->holder, "cp1_7db17c62-0995-4c5d-aaf2-1876b72571fe");
  EXPECT_EQ(created->lease_duration_seconds, 15);
  EXPECT_EQ(created->transitions, 0);
  ASSERT_TRUE(created->renew_time);
  EXPECT_EQ(micro_time(*created->renew_time), "2026-12-02T07:28:07.215931Z");
  EXPECT_FALSE(created->resource_version.empty());

  Lease request = *created;
  request.resource_version.clear();
  EXPECT_EQ(json::parse(lease_body(request)), create["request"]["body"]);

  const json get = fixture("lease-get-200.json");
  auto read = lease_from_response(status_of(get), body_of(get), "", 200);
  ASSERT_TRUE(read) << read.error().format();
  EXPECT_EQ(json::parse(lease_body(*read))["metadata"]["resourceVersion"], read->resource_version);
}

TEST(ApiLease, ConflictsAndAbsenceAreTyped) {
  const json conflict = fixture("lease-update-409-conflict.json");
  auto c = lease_from_response(status_of(conflict), body_of(conflict), "", 200);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::Conflict);
  const json exists = fixture("lease-create-409-alreadyexists.json");
  auto e = lease_from_response(status_of(exists), body_of(exists), "", 201);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, ErrorKind::AlreadyExists);
  const json missing = fixture("lease-get-404-missing.json");
  auto m = lease_from_response(status_of(missing), body_of(missing), "", 200);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind, ErrorKind::NotFound);
  const json forbidden = fixture("forbidden-403-lease-create-no-rbac.json");
  EXPECT_EQ(lease_from_response(status_of(forbidden), body_of(forbidden), "", 201).error().kind,
            ErrorKind::Forbidden);
  EXPECT_FALSE(lease_from_response(200, R"({"kind":"Lease","spec":{"renewTime":"yesterday"}})", "", 200));
  EXPECT_FALSE(lease_from_response(200, R"({"kind":"Lease","spec":{"leaseDurationSeconds":-1}})", "", 200));
}

TEST(ApiEvent, WritesTheRecordedNodeEventAndItsRepeat) {
  const json create = fixture("event-create-201-as-node.json");
  const json& sent = create["request"]["body"];
  EventRecord e;
  e.name = sent["metadata"]["name"];
  e.involved = {"Node", "n1", "n1", "", ""};
  e.reason = "CertificateRotated";
  e.message = sent["message"];
  e.component = "kubelet-certd";
  e.host = "n1";
  e.first = e.last = *parse_rfc3339("2026-12-02T07:29:37Z");
  // Same fields in the same order (ordered_json compares the order too).
  EXPECT_EQ(nlohmann::ordered_json::parse(event_create_body(e)),
            nlohmann::ordered_json::parse(create["request"]["body_raw"].get<std::string>()));
  EXPECT_TRUE(event_from_response(status_of(create), body_of(create), "", 201));

  const json patch = fixture("event-patch-200-count-as-node.json");
  e.count = 2;
  e.last = *parse_rfc3339("2026-12-02T07:29:39Z");
  e.message = patch["request"]["body"]["message"];
  EXPECT_EQ(json::parse(event_patch_body(e)), patch["request"]["body"]);
  EXPECT_TRUE(event_from_response(status_of(patch), body_of(patch), "", 200));

  const json denied = fixture("event-create-403-events-k8s-io-as-node.json");
  auto r = event_from_response(status_of(denied), body_of(denied), "", 201);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::Forbidden);
}

TEST(ApiEvent, NamesAsClientGoDoes) {
  // client-go: fmt.Sprintf("%v.%x", ref.Name, t.UnixNano())
  const SysTime t = SysTime(std::chrono::nanoseconds(0x18ed5f455f6d98c1LL));
  EXPECT_EQ(event_name("n1", t), "n1.18ed5f455f6d98c1");
}

}  // namespace
}  // namespace kcd::api

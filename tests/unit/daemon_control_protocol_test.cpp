// The control socket's typed protocol: every message survives a round trip through its JSON
// line, a reply as the previous daemon wrote it still parses (a new CLI during a package
// upgrade), and every malformed or unexpected reply is an error naming the field, never a
// crash or a default.
#include "daemon/control_protocol.hpp"

#include "base/rfc3339.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kcd::daemon {
namespace {

using rotation::CertKind;
using rotation::Condition;
using rotation::Phase;
using ::testing::HasSubstr;

constexpr std::string_view kSocket = "/var/lib/kubelet/pki/kubelet-certd.sock";

StatusReply sample_status() {
  StatusReply s;
  CertificateReport client;
  client.kind = CertKind::Client;
  client.phase = Phase::Idle;
  client.condition = Condition::Valid;
  client.reason = "valid until 2027-11-22T14:08:16Z";
  client.installs = 2;
  client.sha256 = "ab12";
  client.rotation_deadline = parse_rfc3339("2027-08-26T13:13:00Z");
  CertificateReport serving;
  serving.kind = CertKind::Serving;
  serving.phase = Phase::Awaiting;
  serving.condition = Condition::AwaitingApproval;
  serving.reason = "waiting for approval of csr node-csr-abc";
  serving.last_error = "earlier: 503";
  serving.pending_csr = "node-csr-abc";
  s.certs = {client, serving};
  s.pid = 812;
  s.kubelet.kubelet = "v1.30.4 (running kubelet (pid 640, /usr/bin/kubelet))";
  s.kubelet.rollbacks = 1;
  s.kubelet.held_back = {{"seccompDefault", "4.2.14", "needs the SeccompDefault feature gate"}};
  s.kubelet.refused_keys = {"podPidsLimit"};
  return s;
}

TEST(ControlProtocol, RequestsSurviveTheirRoundTrip) {
  const ControlRequest status{ControlCommand::Status, {}};
  EXPECT_EQ(to_line(status), R"({"command":"status"})");
  EXPECT_EQ(*parse_request(to_line(status)), status);
  const ControlRequest renew{ControlCommand::Renew, {CertKind::Client, CertKind::Serving}};
  EXPECT_EQ(to_line(renew), R"({"certs":["client","serving"],"command":"renew"})");
  EXPECT_EQ(*parse_request(to_line(renew)), renew);
}

TEST(ControlProtocol, RepliesSurviveTheirRoundTrip) {
  const StatusReply status = sample_status();
  auto parsed = parse_status_reply(to_line(ControlReply(status)), kSocket);
  ASSERT_TRUE(parsed) << parsed.error().format();
  EXPECT_EQ(*parsed, status);

  const RenewReply renew{status};
  auto parsed_renew = parse_renew_reply(to_line(ControlReply(renew)), kSocket);
  ASSERT_TRUE(parsed_renew) << parsed_renew.error().format();
  EXPECT_EQ(*parsed_renew, renew);

  StatusReply empty;
  empty.pid = 1;
  EXPECT_EQ(*parse_status_reply(to_line(ControlReply(empty)), kSocket), empty);
}

TEST(ControlProtocol, EveryConditionAndPhaseHasOneWord) {
  for (Condition c : {Condition::Starting, Condition::Valid, Condition::AwaitingApproval,
                      Condition::AwaitingSigner, Condition::Denied, Condition::Error}) {
    EXPECT_EQ(parse_condition(to_string(c)), c) << to_string(c);
  }
  for (Phase p : {Phase::Inspecting, Phase::Idle, Phase::Generating, Phase::Submitting, Phase::Looking,
                  Phase::Awaiting, Phase::Installing, Phase::Discarding, Phase::Backoff}) {
    EXPECT_EQ(parse_phase(rotation::to_string(p)), p) << rotation::to_string(p);
  }
  EXPECT_EQ(to_string(Condition::AwaitingApproval), "awaiting approval")
      << "the wire word older clients compare";
}

// Exactly what the daemon before the typed protocol wrote (describe_lifecycle, status_json).
TEST(ControlProtocol, RepliesOfThePreviousDaemonStillParse) {
  const std::string old_status =
      R"({"certs":[{"condition":"valid","installs":1,"lastError":"","name":"client","phase":"idle",)"
      R"("reason":"valid until 2027-11-22T14:08:16Z","rotationDeadline":"2027-08-26T13:13:00Z","sha256":"ab12"},)"
      R"({"condition":"awaiting approval","installs":0,"lastError":"","name":"serving","pendingCSR":"node-csr-abc",)"
      R"("phase":"awaiting","reason":"waiting for approval of csr node-csr-abc"}],)"
      R"("kubelet":{"heldBack":[{"cis":"4.2.14","key":"seccompDefault","reason":"gate"}],"kubelet":"v1.30.4",)"
      R"("refusedKeys":[],"rollbacks":0},"pid":812})";
  auto s = parse_status_reply(old_status, kSocket);
  ASSERT_TRUE(s) << s.error().format();
  ASSERT_EQ(s->certs.size(), 2u);
  EXPECT_EQ(s->certs[1].condition, Condition::AwaitingApproval);
  EXPECT_EQ(s->certs[1].pending_csr, "node-csr-abc");
  EXPECT_EQ(s->certs[0].rotation_deadline, parse_rfc3339("2027-08-26T13:13:00Z"));
  EXPECT_EQ(s->pid, 812);
  EXPECT_EQ(s->kubelet.held_back.at(0).key, "seccompDefault");

  auto r = parse_renew_reply(R"({"ok":true,"before":)" + old_status + "}", kSocket);
  ASSERT_TRUE(r) << r.error().format();
  EXPECT_EQ(r->before, *s);
}

TEST(ControlProtocol, ExtraFieldsOfANewerDaemonAreIgnored) {
  nlohmann::json j = to_json(sample_status());
  j["uptimeSeconds"] = 12;
  j["certs"][0]["somethingNew"] = "x";
  EXPECT_TRUE(parse_status_reply(j.dump(), kSocket));
}

TEST(ControlProtocol, ARefusalCarriesTheDaemonsMessage) {
  auto s =
      parse_renew_reply(R"j({"error":"the serving certificate is turned off (serving: false)"})j", kSocket);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::Refused);
  EXPECT_EQ(s.error().format(), "the serving certificate is turned off (serving: false)");
  EXPECT_FALSE(parse_status_reply(R"({"error":"unknown command \"x\""})", kSocket));
}

// Every malformed or unexpected status reply: rejected, with the field and what is wrong.
TEST(ControlProtocol, EveryMalformedStatusReplyIsRejectedWithAMessage) {
  const nlohmann::json good = to_json(sample_status());
  struct Case {
    std::string name;
    std::string line;
    std::string field;    // the Location key
    std::string message;  // part of the message
  };
  auto with = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json j = good;
    change(j);
    return j.dump();
  };
  const std::vector<Case> cases = {
      {"empty", "", "", "empty reply"},
      {"not JSON", "{\"certs\": [", "", "not JSON"},
      {"an array", "[1,2]", "", "expected a JSON object, got array"},
      {"a string", "\"ok\"", "", "expected a JSON object, got string"},
      {"error not a string", R"({"error": 3})", "error", "expected a string, got number"},
      {"no certs", with([](auto& j) { j.erase("certs"); }), "certs", "missing"},
      {"certs an object", with([](auto& j) { j["certs"] = nlohmann::json::object(); }), "certs",
       "expected an array, got object"},
      {"cert not an object", with([](auto& j) { j["certs"][1] = "serving"; }), "certs[1]",
       "expected an object, got string"},
      {"no name", with([](auto& j) { j["certs"][0].erase("name"); }), "certs[0].name", "missing"},
      {"unknown name", with([](auto& j) { j["certs"][0]["name"] = "ca"; }), "certs[0].name",
       "\"ca\" is not a certificate"},
      {"name twice", with([](auto& j) { j["certs"][1]["name"] = "client"; }), "certs[1].name",
       "client is reported twice"},
      {"no condition", with([](auto& j) { j["certs"][1].erase("condition"); }), "certs[1].condition",
       "missing"},
      {"unknown condition", with([](auto& j) { j["certs"][1]["condition"] = "pending"; }),
       "certs[1].condition", "\"pending\" is not a condition (starting, valid, awaiting approval"},
      {"condition not a string", with([](auto& j) { j["certs"][1]["condition"] = 2; }), "certs[1].condition",
       "expected a string, got number"},
      {"unknown phase", with([](auto& j) { j["certs"][0]["phase"] = "sleeping"; }), "certs[0].phase",
       "\"sleeping\" is not a phase"},
      {"no reason", with([](auto& j) { j["certs"][0].erase("reason"); }), "certs[0].reason", "missing"},
      {"installs a string", with([](auto& j) { j["certs"][0]["installs"] = "2"; }), "certs[0].installs",
       "expected an integer, got string"},
      {"installs a fraction", with([](auto& j) { j["certs"][0]["installs"] = 1.5; }), "certs[0].installs",
       "expected an integer, got number"},
      {"installs negative", with([](auto& j) { j["certs"][0]["installs"] = -1; }), "certs[0].installs",
       "-1 is out of range"},
      {"lastError null", with([](auto& j) { j["certs"][0]["lastError"] = nullptr; }), "certs[0].lastError",
       "expected a string, got null"},
      {"pendingCSR a number", with([](auto& j) { j["certs"][1]["pendingCSR"] = 7; }), "certs[1].pendingCSR",
       "expected a string, got number"},
      {"deadline not a time", with([](auto& j) { j["certs"][0]["rotationDeadline"] = "tomorrow"; }),
       "certs[0].rotationDeadline", "\"tomorrow\" is not an RFC 3339 time"},
      {"no pid", with([](auto& j) { j.erase("pid"); }), "pid", "missing"},
      {"pid zero", with([](auto& j) { j["pid"] = 0; }), "pid", "0 is out of range"},
      {"pid a string", with([](auto& j) { j["pid"] = "812"; }), "pid", "expected an integer, got string"},
      {"no kubelet", with([](auto& j) { j.erase("kubelet"); }), "kubelet", "missing"},
      {"kubelet a string", with([](auto& j) { j["kubelet"] = "v1.30"; }), "kubelet",
       "expected an object, got string"},
      {"rollbacks negative", with([](auto& j) { j["kubelet"]["rollbacks"] = -2; }), "kubelet.rollbacks",
       "out of range"},
      {"heldBack not an array", with([](auto& j) { j["kubelet"]["heldBack"] = "seccompDefault"; }),
       "kubelet.heldBack", "expected an array, got string"},
      {"heldBack entry without key", with([](auto& j) { j["kubelet"]["heldBack"][0].erase("key"); }),
       "kubelet.heldBack[0].key", "missing"},
      {"refusedKeys with a number", with([](auto& j) { j["kubelet"]["refusedKeys"][0] = 1; }),
       "kubelet.refusedKeys[0]", "expected a string, got number"},
  };
  for (const auto& c : cases) {
    auto parsed = parse_status_reply(c.line, kSocket);
    ASSERT_FALSE(parsed) << c.name;
    const Error& e = parsed.error();
    EXPECT_EQ(e.kind, ErrorKind::Corrupt) << c.name;
    EXPECT_EQ(e.where.file, kSocket) << c.name;
    EXPECT_EQ(e.where.key, c.field) << c.name << ": " << e.format();
    EXPECT_THAT(e.message, HasSubstr("unexpected reply from the daemon")) << c.name;
    EXPECT_THAT(e.message, HasSubstr(c.message)) << c.name << ": " << e.format();
  }
}

TEST(ControlProtocol, EveryMalformedRenewReplyIsRejectedWithAMessage) {
  const std::string status = to_line(ControlReply(sample_status()));
  struct Case {
    std::string line, field, message;
  };
  const std::vector<Case> cases = {
      {"{}", "ok", "missing"},
      {R"({"ok":false,"before":)" + status + "}", "ok", "expected true, got false"},
      {R"({"ok":"yes","before":)" + status + "}", "ok", "expected true"},
      {R"({"ok":true})", "before", "missing"},
      {R"({"ok":true,"before":[]})", "before", "expected an object, got array"},
      {R"({"ok":true,"before":{"certs":[],"pid":1}})", "before.kubelet", "missing"},
      // A status reply where a renew reply belongs: the daemon answered another question.
      {status, "ok", "missing"},
  };
  for (const auto& c : cases) {
    auto parsed = parse_renew_reply(c.line, kSocket);
    ASSERT_FALSE(parsed) << c.line;
    EXPECT_EQ(parsed.error().kind, ErrorKind::Corrupt) << c.line;
    EXPECT_EQ(parsed.error().where.key, c.field) << parsed.error().format();
    EXPECT_THAT(parsed.error().message, HasSubstr(c.message)) << parsed.error().format();
  }
}

TEST(ControlProtocol, TheDaemonRefusesMalformedRequestsWithAMessage) {
  struct Case {
    std::string line, message;
  };
  const std::vector<Case> cases = {
      {"", "request is not a JSON object"},
      {"[\"renew\"]", "request is not a JSON object"},
      {"{}", "request has no command"},
      {R"({"command":7})", "request has no command"},
      {R"({"command":"reboot"})", "unknown command \"reboot\""},
      {R"({"command":"renew"})", "renew: certs must list client and/or serving"},
      {R"({"command":"renew","certs":[]})", "renew: certs must list client and/or serving"},
      {R"({"command":"renew","certs":["ca"]})", "unknown certificate \"ca\"; use client, serving or all"},
      {R"({"command":"renew","certs":[1]})", "unknown certificate \"1\""},
  };
  for (const auto& c : cases) {
    auto parsed = parse_request(c.line);
    ASSERT_FALSE(parsed) << c.line;
    EXPECT_THAT(parsed.error().message, HasSubstr(c.message)) << c.line;
  }
  auto twice = parse_request(R"({"command":"renew","certs":["client","client"]})");
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->certs, std::vector<CertKind>{CertKind::Client});
}

TEST(ControlProtocol, AReportComesFromTheLifecycle) {
  rotation::Lifecycle m(CertKind::Serving, {}, [] { return 0.5; });
  const CertificateReport r = report_of(m);
  EXPECT_EQ(r.kind, CertKind::Serving);
  EXPECT_EQ(r.phase, Phase::Inspecting);
  EXPECT_EQ(r.condition, Condition::Starting);
  EXPECT_EQ(r.installs, 0);
  EXPECT_FALSE(r.sha256);
  EXPECT_FALSE(r.pending_csr);
}

}  // namespace
}  // namespace kcd::daemon

// The fault knobs as JSON, the injected failures and the faults endpoint.
#include "tests/devapi/faults.hpp"

namespace kcd::devapi {

namespace http = boost::beast::http;
using nlohmann::json;

json to_json(const Faults& f) {
  return json{{"responseDelayMs", f.response_delay.count()},
              {"failNextWith5xx", f.fail_next_with_5xx},
              {"throttleNext", f.throttle_next},
              {"retryAfterSeconds", f.retry_after_seconds},
              {"dropWatches", f.drop_watches},
              {"silentWatches", f.silent_watches},
              {"watchTooOld", f.watch_too_old},
              {"denyAll", f.deny_all},
              {"failAll", f.fail_all},
              {"wrongKeyCertificate", f.wrong_key_certificate},
              {"refuseConnections", f.refuse_connections},
              {"revokedTokens", f.revoked_tokens},
              {"rejectClientCerts", f.reject_client_certs}};
}

Faults faults_from_json(const json& j) {
  Faults f;
  f.response_delay = std::chrono::milliseconds(j.value("responseDelayMs", 0));
  f.fail_next_with_5xx = j.value("failNextWith5xx", 0);
  f.throttle_next = j.value("throttleNext", 0);
  f.retry_after_seconds = j.value("retryAfterSeconds", 1);
  f.drop_watches = j.value("dropWatches", false);
  f.silent_watches = j.value("silentWatches", false);
  f.watch_too_old = j.value("watchTooOld", false);
  f.deny_all = j.value("denyAll", false);
  f.fail_all = j.value("failAll", false);
  f.wrong_key_certificate = j.value("wrongKeyCertificate", false);
  f.refuse_connections = j.value("refuseConnections", false);
  f.reject_client_certs = j.value("rejectClientCerts", false);
  if (auto it = j.find("revokedTokens"); it != j.end() && it->is_array()) {
    for (const auto& t : *it) f.revoked_tokens.insert(t.get<std::string>());
  }
  return f;
}

std::optional<Reply> take_injected_failure(Faults& faults, std::map<std::string, int>& counts) {
  if (faults.fail_next_with_5xx > 0) {
    --faults.fail_next_with_5xx;
    ++counts["fault 5xx"];
    return status_reply(
        status_object(500, "InternalError", "Internal error occurred: devapi: injected fault",
                      ojson{{"causes", ojson::array({ojson{{"message", "devapi: injected fault"}}})}}));
  }
  if (faults.throttle_next > 0) {
    --faults.throttle_next;
    ++counts["fault 429"];
    Reply reply =
        status_reply(status_object(429, "TooManyRequests", "Too many requests, please try again later.",
                                   ojson{{"retryAfterSeconds", faults.retry_after_seconds}}));
    reply.retry_after = faults.retry_after_seconds;
    return reply;
  }
  return std::nullopt;
}

Reply faults_endpoint(const Request& req, Faults& faults) {
  if (req.method() == http::verb::put) {
    json j = json::parse(req.body(), nullptr, false);
    if (j.is_discarded()) return status_reply(status_object(400, "BadRequest", "faults: body is not JSON"));
    faults = faults_from_json(j);
  }
  Reply r;
  r.body = to_json(faults).dump() + "\n";
  return r;
}

}  // namespace kcd::devapi

// The JSON summary: figures grouped by what they are about, times in hours since the start.
#include "tests/fleetsim/report.hpp"

namespace kcd::fleetsim {

namespace {

using json = nlohmann::json;

double hours_since_start(SysTime t) {
  return std::chrono::duration<double, std::ratio<3600>>(t - epoch()).count();
}
double hours(Seconds s) {
  return std::chrono::duration<double, std::ratio<3600>>(s).count();
}

template <class T>
json optional(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json windows(const std::vector<Window>& list) {
  json out = json::array();
  for (const Window& w : list)
    out.push_back({{"start_hours", hours_since_start(w.from)}, {"end_hours", hours_since_start(w.to)}});
  return out;
}

std::optional<double> ratio(const std::optional<std::uint32_t>& peak, const std::optional<double>& steady) {
  if (!peak || !steady || *steady <= 0) return std::nullopt;
  return *peak / *steady;
}

}  // namespace

json summary_json(const FleetReport& r) {
  const FleetConfig& c = r.config;
  json model = {
      {"start", c.start == Start::Bootstrap ? "bootstrap within the start spread"
                                            : "certificates issued within the start spread"},
      {"start_spread_seconds", c.start_spread.count()},
      {"lifetime_hours", hours(c.lifetime)},
      {"simulated_days", hours(c.duration) / 24},
      {"capacity_per_second", c.api.capacity_per_second},
      {"retry_after_seconds", c.api.retry_after.count()},
      {"outages", windows(c.api.outages)},
      {"serving_approver_down", windows(c.api.serving_approver_down)},
      {"deny_share", c.api.deny_share},
  };
  json rotation = {
      {"bucket_hours", hours(r.rotation_bucket)},
      {"peak_per_minute", optional(r.peak_rotation_rate_per_minute)},
      {"even_per_minute", optional(r.even_rotation_rate_per_minute)},
      {"peak_over_even", r.peak_rotation_rate_per_minute && r.even_rotation_rate_per_minute
                             ? json(*r.peak_rotation_rate_per_minute / *r.even_rotation_rate_per_minute)
                             : json(nullptr)},
  };
  json disturbance = nullptr;
  if (c.disturbance) {
    disturbance = {
        {"start_hours", hours_since_start(c.disturbance->from)},
        {"end_hours", hours_since_start(c.disturbance->to)},
        {"steady_requests_per_minute", optional(r.steady_requests_per_minute)},
        {"retry_peak_requests_per_minute", optional(r.retry_peak_requests_per_minute)},
        {"retry_peak_over_steady_requests",
         optional(ratio(r.retry_peak_requests_per_minute, r.steady_requests_per_minute))},
        {"steady_peak_requests_per_minute", optional(r.steady_peak_requests_per_minute)},
        {"retry_peak_over_steady_peak_requests",
         optional(ratio(r.retry_peak_requests_per_minute, r.steady_peak_requests_per_minute))},
        {"steady_csrs_per_minute", optional(r.steady_csrs_per_minute)},
        {"retry_peak_csrs_per_minute", optional(r.retry_peak_csrs_per_minute)},
        {"retry_peak_over_steady_csrs",
         optional(ratio(r.retry_peak_csrs_per_minute, r.steady_csrs_per_minute))},
        {"certificates_disturbed", r.disturbed_certificates},
        {"recovery_seconds_after_end",
         r.recovery_after_disturbance ? json(r.recovery_after_disturbance->count()) : json(nullptr)},
    };
  }
  json expired_list = json::array();
  for (std::size_t i = 0; i < r.expired.size() && i < 20; ++i) {
    const ExpiredCertificate& e = r.expired[i];
    expired_list.push_back(
        {{"node", e.node},
         {"cert", std::string(to_string(e.kind))},
         {"expired_at_hours", hours_since_start(e.expired_at)},
         {"renewed_at_hours", e.renewed_at ? json(hours_since_start(*e.renewed_at)) : json(nullptr)},
         {"api_server_up_day_before", e.api_server_up_day_before}});
  }
  return {
      {"scenario", c.scenario},
      {"nodes", c.nodes},
      {"seed", c.seed},
      {"model", model},
      {"csrs",
       {{"created", r.csrs_created},
        {"peak_per_minute", r.peak_csrs_per_minute},
        {"p99_per_minute", r.p99_csrs_per_minute},
        {"denied", r.denied},
        {"garbage_collected", r.garbage_collected},
        {"max_stored", r.max_stored_csrs},
        {"max_stored_per_node", r.max_stored_csrs_per_node}}},
      {"rotation_spread", rotation},
      {"api_requests",
       {{"total", r.api_requests},
        {"per_node_day", r.api_requests_per_node_day},
        {"idle_per_node_day", optional(r.idle_api_requests_per_node_day)},
        {"idle_days", r.idle_days},
        {"peak_per_minute", r.peak_requests_per_minute},
        {"p99_per_minute", r.p99_requests_per_minute},
        {"throttled_429", r.throttled},
        {"refused_while_down", r.refused}}},
      {"disturbance", disturbance},
      {"expired",
       {{"count", r.expired.size()},
        {"with_api_server_up_a_day_before", r.expired_with_api_server_up},
        {"first", expired_list}}},
      {"certificates_installed", r.installs},
      {"runtime",
       {{"wall_seconds", r.wall_seconds}, {"events", r.events}, {"lifecycle_steps", r.lifecycle_steps}}},
  };
}

void write_series(std::ostream& out, const FleetReport& r) {
  const MinuteSeries& s = r.series;
  out << "minute\thours\tcsrs_created\trequests\tthrottled\trefused\tstored\tapi_down\n";
  for (std::size_t m = 0; m < s.requests.size(); ++m) {
    out << m << '\t' << static_cast<double>(m) / 60 << '\t' << s.csrs_created[m] << '\t' << s.requests[m]
        << '\t' << s.throttled[m] << '\t' << s.refused[m] << '\t' << s.stored[m] << '\t'
        << in_any(r.config.api.outages, epoch() + std::chrono::minutes(m)) << '\n';
  }
}

}  // namespace kcd::fleetsim

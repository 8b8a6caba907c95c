// Shared set-up of the integration tests that run the kubelet-certd binary against devapi.
#pragma once

#include "base/base64.hpp"
#include "base/rfc3339.hpp"
#include "rotation/certificate.hpp"
#include "rotation/csr.hpp"
#include "rotation/key.hpp"
#include "tests/devapi/server.hpp"
#include "tests/support/subprocess.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

namespace kcd::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class AgentHarness : public ::testing::Test {
 protected:
  void SetUp() override { start_devapi(devapi::Options{}); }

  void TearDown() override {
    EXPECT_EQ(logs_.find(server_->bootstrap_token()), std::string::npos) << "token leaked into logs";
    EXPECT_EQ(logs_.find("PRIVATE KEY"), std::string::npos) << "private key leaked into logs";
    if (server_) server_->stop();
  }

  void start_devapi(devapi::Options opts) {
    if (server_) server_->stop();
    opts.state_dir = tmp_ / "devapi";
    server_ = std::make_unique<devapi::Server>(opts);
    server_->start();
  }

  fs::path cert_dir() const { return tmp_ / "pki"; }
  fs::path kubeconfig() const { return tmp_ / "kubelet.conf"; }
  fs::path config_file() const { return tmp_ / "config.yaml"; }
  fs::path kubelet_config() const { return tmp_ / "kubelet-config.yaml"; }
  fs::path client_ca() const { return tmp_ / "pki-ca" / "ca.crt"; }
  fs::path fake_kubelet() const { return tmp_ / "bin" / "kubelet"; }

  // An executable that answers `--version` like a kubelet of `version` ("1.30.4").
  static void write_fake_kubelet(const fs::path& path, const std::string& version) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << "#!/bin/sh\necho 'Kubernetes v" << version << "'\n";
    fs::permissions(path, static_cast<fs::perms>(0755));
  }
  std::string fake_kubelet_version = "1.30.4";

  // Our settings file: serving SANs that the strict approver accepts.
  // `extra` lines ("key: value\n...") replace the defaults for their keys.
  // kubeletPath is a stand-in kubelet reporting `fake_kubelet_version` (what decides the keys
  // written to the kubelet's config file); tests that need none say `kubeletPath: ""`.
  void write_config(const std::string& extra = {}) {
    std::string text = "apiVersion: kubelet-certd.io/v1alpha1\nkind: KubeletCertdConfiguration\n";
    write_fake_kubelet(fake_kubelet(), fake_kubelet_version);
    const std::string kubelet_path = "kubeletPath: " + fake_kubelet().string();
    for (std::string line : {"nodeName: worker-1", "servingIPs: [127.0.0.1]", "servingDNSNames: []",
                             "kubeletRestart: never", kubelet_path.c_str()}) {
      const std::string key = line.substr(0, line.find(':') + 1);
      if (extra.find(key) == std::string::npos) text += line + "\n";
    }
    std::ofstream(config_file()) << text << extra;
  }

  std::vector<std::string> args(const std::string& command, std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {KCD_BINARY, command};
    if (command == "renew") {
      a.push_back(extra.front());
      extra.erase(extra.begin());
    }
    for (std::string x : std::vector<std::string>{
             "--config", config_file().string(), "--bootstrap-kubeconfig",
             server_->bootstrap_kubeconfig_path().string(), "--kubeconfig", kubeconfig().string(),
             "--cert-dir", cert_dir().string(), "--kubelet-config", kubelet_config().string(),
             "--client-ca-file", client_ca().string(), "--log-level", "debug"}) {
      a.push_back(x);
    }
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  RunOutput run(const std::string& command, std::vector<std::string> extra = {},
                std::map<std::string, std::string> env = {}, std::chrono::milliseconds timeout = 120s) {
    auto out = run_process(args(command, std::move(extra)), tmp_ / "logs", timeout, std::move(env));
    logs_ += out.out + out.err;
    return out;
  }

  std::unique_ptr<Subprocess> daemon(std::vector<std::string> extra = {},
                                     std::map<std::string, std::string> env = {}) {
    return std::make_unique<Subprocess>(args("run", std::move(extra)), tmp_ / "logs", std::move(env));
  }

  void collect(Subprocess& p) { logs_ += p.out() + p.err(); }

  int total_requests() const {
    int n = 0;
    for (const auto& [k, v] : server_->request_counts()) n += v;
    return n;
  }

  // Waits up to `limit` for `cond`.
  static bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = 20s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (cond()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return cond();
  }

  // The certificate and key `-current.pem` of `prefix` resolves to, if complete and matching.
  std::optional<rotation::CertInfo> current(const std::string& prefix = "kubelet-client") const {
    const fs::path link = cert_dir() / (prefix + "-current.pem");
    std::error_code ec;
    if (!fs::exists(link, ec)) return std::nullopt;
    const std::string pem = read_text(link);
    auto chain = rotation::parse_certificates_pem(pem, link.string());
    if (!chain) return std::nullopt;
    auto key = rotation::load_private_key_pem(pem, link.string());
    if (!key || X509_check_private_key(chain->front().get(), key->get()) != 1) return std::nullopt;
    return rotation::inspect_certificate(chain->front().get());
  }

  // Public keys of every CSR devapi holds: no key may appear twice.
  std::multiset<std::string> csr_public_keys() const {
    std::multiset<std::string> keys;
    for (const auto& c : server_->list_csrs()) {
      auto parsed = rotation::parse_csr_pem(
          base64_decode(c["spec"]["request"].get<std::string>()).value_or(std::string()));
      if (parsed) keys.insert(rotation::public_key_der(parsed->public_key.get()));
    }
    return keys;
  }

  std::size_t log_count(const std::string& needle) const {
    std::size_t n = 0;
    for (std::size_t pos = logs_.find(needle); pos != std::string::npos; pos = logs_.find(needle, pos + 1))
      ++n;
    return n;
  }

  TempDir tmp_;
  std::unique_ptr<devapi::Server> server_;
  std::string logs_;
};

}  // namespace kcd::testing

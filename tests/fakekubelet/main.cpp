// A stand-in kubelet for the systemd end-to-end test: answers `--version` with the version in
// "<its own path>.version" (default 1.30.4), and otherwise behaves like a kubelet at start-up
// as far as kubelet-certd is concerned: it reads --config, stops like a real pre-1.25 kubelet
// when the file has seccompDefault: true without the SeccompDefault gate (same message), and
// serves GET /healthz "ok" on healthzBindAddress:healthzPort (default 127.0.0.1:10248).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace {

std::string own_version() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::ifstream in(self.string() + ".version");
  std::string v;
  if (in >> v) return v;
  return "1.30.4";
}

int minor_of(const std::string& v) {
  const auto dot = v.find('.');
  return dot == std::string::npos ? 0 : std::atoi(v.c_str() + dot + 1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--version") {
      std::cout << "Kubernetes v" << own_version() << "\n";
      return 0;
    }
    if (a.rfind("--config=", 0) == 0) config = a.substr(9);
  }
  std::string host = "127.0.0.1";
  int port = 10248;
  if (!config.empty()) {
    YAML::Node doc;
    try {
      doc = YAML::LoadFile(config);
    } catch (const std::exception& e) {
      std::cerr << "failed to load Kubelet config file " << config << ": " << e.what() << "\n";
      return 1;
    }
    const std::string version = own_version();
    const bool seccomp =
        doc["seccompDefault"].IsDefined() && doc["seccompDefault"].as<std::string>() == "true";
    const bool gate = doc["featureGates"].IsDefined() && doc["featureGates"]["SeccompDefault"].IsDefined() &&
                      doc["featureGates"]["SeccompDefault"].as<std::string>() == "true";
    if (seccomp && minor_of(version) < 25 && !gate) {
      std::cerr << "E1202 command failed: failed to run Kubelet: the SeccompDefault feature gate must be "
                   "enabled in order to "
                   "use the SeccompDefault configuration\n";
      return 1;
    }
    if (doc["healthzBindAddress"].IsDefined()) host = doc["healthzBindAddress"].as<std::string>();
    if (doc["healthzPort"].IsDefined()) port = doc["healthzPort"].as<int>();
  }
  std::cerr << "fake kubelet v" << own_version() << " serving healthz on " << host << ":" << port << "\n";
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host == "0.0.0.0" ? "0.0.0.0" : "127.0.0.1", &addr.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    std::cerr << "cannot listen on " << host << ":" << port << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  while (true) {
    const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    char buf[1024];
    (void)::recv(c, buf, sizeof buf, 0);
    const char* resp =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nConnection: "
        "close\r\n\r\nok";
    (void)::send(c, resp, std::strlen(resp), MSG_NOSIGNAL);
    ::close(c);
  }
}

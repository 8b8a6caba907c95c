// kubelet-certd-floor: the least any node agent built on the mandated stack must do to bootstrap a
// client certificate, with nothing of ours around it: exec with the mandated shared libraries
// loaded (OpenSSL 3, libsystemd, spdlog, yaml-cpp, libstdc++) and each used once (a notify, a log
// line, the kubeconfig read back),
// an ECDSA P-256 key and a CSR signed with it, the key made durable before the CSR could be filed
// (file + folder fsync), one TCP + TLS 1.3 handshake verified against the cluster CA and one HTTP
// exchange, then the certificate and the kubeconfig written durably as the crash invariants need
// (certificate file, folder after the link swap, kubeconfig file and folder: 6 fsyncs in all).
// The bench runs it beside the daemon so that both see the same machine; its figures are the
// floor under the "client-side overhead" and memory targets (README "Performance").
//
// Usage: kubelet-certd-floor <trace file> <work dir> <server port> <CA file>
// Appends "<phase> <CLOCK_MONOTONIC ns>" per phase (as the daemon's KCD_TRACE does) and, at the
// end, "rss_kib N", "private_kib N", "hwm_kib N".
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace {

FILE* g_trace = nullptr;

void mark(const char* phase) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  std::fprintf(g_trace, "%s %lld\n", phase, static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "kubelet-certd-floor: %s failed\n", what);
  std::exit(1);
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) die("folder fsync");
  ::close(fd);
}

// Written to a temporary name, fsync'ed, renamed over `path` (the folder is not fsync'ed here).
void write_synced(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()) ||
      ::fsync(fd) != 0) {
    die("file write");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) die("rename");
}

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) die("key PEM");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string csr_pem(EVP_PKEY* key) {
  X509_REQ* req = X509_REQ_new();
  X509_NAME* name = X509_REQ_get_subject_name(req);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("system:nodes"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("system:node:bench-node"), -1, -1, 0);
  if (X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0) die("CSR");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  X509_REQ_free(req);
  return out;
}

// One HTTPS exchange on 127.0.0.1:port, the server verified against `ca_file`; the answer's
// status does not matter (no credentials are sent).
void https_exchange(int port, const char* ca_file, const std::string& body) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr || SSL_CTX_load_verify_locations(ctx, ca_file, nullptr) != 1) die("TLS context");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  if (SSL_connect(ssl) != 1) die("TLS handshake");
  mark("tls");
  const std::string req =
      "POST /apis/certificates.k8s.io/v1/certificatesigningrequests HTTP/1.1\r\nHost: 127.0.0.1:" +
      std::to_string(port) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  if (SSL_write(ssl, req.data(), static_cast<int>(req.size())) <= 0) die("request");
  char buf[4096];
  while (SSL_read(ssl, buf, sizeof buf) > 0) {}
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
}

long status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  }
  return 0;
}

long rollup_kib(const char* field) {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  long sum = 0;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) sum += std::stol(line.substr(std::strlen(field)));
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: kubelet-certd-floor <trace file> <work dir> <server port> <CA file>\n");
    return 2;
  }
  g_trace = std::fopen(argv[1], "a");
  if (g_trace == nullptr) die("trace file");
  mark("main");
  const std::string dir = argv[2];
  const int port = std::atoi(argv[3]);

  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) die("key generation");
  const std::string csr = csr_pem(key);
  mark("key");
  write_synced(dir + "/kubelet-client.key.pending", pem_of(key));
  fsync_dir(dir);  // 2 fsyncs: the key is durable before the CSR that names it is filed
  mark("key-saved");

  https_exchange(port, argv[4], "{\"spec\":{\"request\":\"" + std::to_string(csr.size()) + "\"}}");
  mark("request");

  // The certificate (a stand-in of the same size: the CA's PEM) and its link, then kubeconfig.
  std::ifstream ca(argv[4]);
  const std::string cert((std::istreambuf_iterator<char>(ca)), std::istreambuf_iterator<char>());
  const std::string file = dir + "/kubelet-client-2026.pem";
  write_synced(file, cert + pem_of(key));  // 1 fsync: never a current certificate left empty
  const std::string link = dir + "/kubelet-client-current.pem";
  ::unlink((link + ".new").c_str());
  if (::symlink(file.c_str(), (link + ".new").c_str()) != 0 ||
      ::rename((link + ".new").c_str(), link.c_str()) != 0) {
    die("link swap");
  }
  fsync_dir(dir);  // 1 fsync: the file's rename and the swap together
  write_synced(dir + "/kubelet.conf",
               "apiVersion: v1\nkind: Config\nusers:\n- name: default-auth\n  user:\n"
               "    client-certificate: " +
                   link + "\n    client-key: " + link + "\n");
  fsync_dir(dir);  // 2 fsyncs: kubelet.conf names a certificate that exists, and does not vanish
  // Read back with the mandated YAML library, logged with the mandated logger, told to systemd.
  if (!YAML::LoadFile(dir + "/kubelet.conf")["users"]) die("kubeconfig read back");
  spdlog::info("certificate installed: {}", file);
  sd_notify(0, "STATUS=installed");
  mark("installed");

  std::fprintf(g_trace, "rss_kib %ld\nprivate_kib %ld\nhwm_kib %ld\n", status_kib("VmRSS:"),
               rollup_kib("Private_Clean:") + rollup_kib("Private_Dirty:"), status_kib("VmHWM:"));
  std::fclose(g_trace);
  EVP_PKEY_free(key);
  return 0;
}

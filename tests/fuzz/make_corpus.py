#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<target>/ from the repository's recorded fixtures
and golden files (tests/fixtures, kubelet/kube-bench) plus the few hand-written seeds below.
Run from the repository root after changing fixtures; the output is committed (CI does not run
this). Usage: tests/fuzz/make_corpus.py [extra-pem-dir]"""
import base64, glob, json, os, shutil, sys

ROOT = os.getcwd()
OUT = os.path.join(ROOT, "tests/fuzz/corpus")
FIX = os.path.join(ROOT, "tests/fixtures")
SEP = "\n%%\n"


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def captures():
    for p in sorted(glob.glob(os.path.join(FIX, "k8s-api/*.json"))):
        d = json.loads(read(p))
        if isinstance(d, dict) and "response" in d:
            yield os.path.basename(p)[:-5], d["response"]


shutil.rmtree(OUT, ignore_errors=True)
CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

# settings: the packaged file's keys, spelled out, and the forms the tests use.
put("settings", "minimal.yaml", "apiVersion: kubelet-certd.io/v1alpha1\nkind: KubeletCertdConfiguration\nnodeName: testnode1\n")
put("settings", "full.yaml", """apiVersion: kubelet-certd.io/v1alpha1
kind: KubeletCertdConfiguration
nodeName: worker-1
bootstrapKubeconfig: /etc/kubernetes/bootstrap-kubelet.conf
kubeconfig: /etc/kubernetes/kubelet.conf
certDir: /var/lib/kubelet/pki
kubeletConfig: /var/lib/kubelet/config.yaml
keyAlgorithm: ecdsa-p256
clientExpiration: 720h
logLevel: info
rotationWindow: 70%-90%
csrCreateInterval: 5m
keepCertificates: 3
serving: true
servingIPs: [192.0.2.10, "2001:db8::1"]
servingDNSNames:
- worker-1
- worker-1.example
servingExpiration: 8760h
kubeletRestart: auto
kubeletUnit: kubelet.service
kubeletPath: /usr/bin/kubelet
kubeletHealthTimeout: 2m
patchKubeletConfig: true
hardening: cis
clientCAFile: /etc/kubernetes/pki/ca.crt
metricsAddress: 127.0.0.1:10271
metricsTextfile: /var/lib/node_exporter/kubelet-certd.prom
""")
packaged = glob.glob(os.path.join(ROOT, "build*/packaging/config.yaml"))
if packaged:
    put("settings", "packaged.yaml", read(packaged[0]))

# kubeconfig: kubeadm's bootstrap file, the kubelet's own, file references.
boot = ("apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: " + base64.b64encode(CA.encode()).decode() +
        "\n    server: https://10.0.0.1:6443\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n"
        "    user: tls-bootstrap-token-user\n  name: tls-bootstrap-token-user@kubernetes\n"
        "current-context: tls-bootstrap-token-user@kubernetes\nkind: Config\npreferences: {}\nusers:\n"
        "- name: tls-bootstrap-token-user\n  user:\n    token: abcdef.0123456789abcdef\n")
put("kubeconfig", "bootstrap.conf", boot)
put("kubeconfig", "kubelet.conf", """apiVersion: v1
clusters:
- cluster:
    certificate-authority: /etc/kubernetes/pki/ca.crt
    server: https://[2001:db8::1]:6443/prefix
    tls-server-name: kubernetes
  name: default-cluster
contexts:
- context:
    cluster: default-cluster
    namespace: default
    user: default-auth
  name: default-context
current-context: default-context
kind: Config
preferences: {}
users:
- name: default-auth
  user:
    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem
    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem
""")
put("kubeconfig", "tokenfile.conf", boot.replace("token: abcdef.0123456789abcdef", "tokenFile: token").replace(
    "certificate-authority-data: " + base64.b64encode(CA.encode()).decode(), "certificate-authority: ca.crt"))

# kubelet_config: the editor's golden files (inputs and expected outputs).
for p in sorted(glob.glob(os.path.join(FIX, "kubelet-config/*.yaml"))):
    put("kubelet_config", os.path.basename(p), read(p))
put("kubelet_config", "nested.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
    "authentication:\n  x509: {clientCAFile: /old}\n  anonymous:\n    enabled: true\nfeatureGates:\n"
    "  RotateKubeletServerCertificate: false\nrotateCertificates: true\ntlsCipherSuites:\n- A\n- B\n")

# certificate: recorded certificates and keys, and generated ones (chain, a notAfter in 9966).
pems = [read(p) for p in sorted(glob.glob(os.path.join(FIX, "k8s-api/*.crt.pem")))]
for i, pem in enumerate(pems):
    put("certificate", "recorded-%d.pem" % i, pem)
for p in sorted(glob.glob(os.path.join(FIX, "crypto/*.key"))):
    put("certificate", os.path.basename(p), read(p))
for name, res in captures():
    body = res.get("body")
    status = body.get("status") if isinstance(body, dict) else None
    cert = status.get("certificate") if isinstance(status, dict) else None
    if cert:
        put("certificate", name + ".pem", base64.b64decode(cert))
extra = sys.argv[1] if len(sys.argv) > 1 else None
if extra:
    leaf, ca, far = (read(os.path.join(extra, n)) for n in ("leaf.pem", "ca.pem", "far.pem"))
    put("certificate", "chain.pem", leaf + ca)
    put("certificate", "far-future.pem", far)
for t in ["2026-11-22T10:32:28Z", "2026-11-22T10:32:28.123456789+02:00", "1970-01-01T00:00:00-00:30"]:
    put("certificate", "time-" + t.replace(":", ""), t)

# csr: recorded CSRs, CSR objects, Status bodies and watch streams.
for p in sorted(glob.glob(os.path.join(FIX, "k8s-api/*.csr.pem"))):
    put("csr", os.path.basename(p), read(p))
for name, res in captures():
    if isinstance(res.get("body"), dict) and res["body"].get("kind") in ("CertificateSigningRequest", "Status"):
        put("csr", name + ".json", res["body_raw"] if res.get("body_raw") else json.dumps(res["body"]))
for p in sorted(glob.glob(os.path.join(FIX, "k8s-api/*.jsonl"))):
    if os.path.getsize(p):
        put("csr", os.path.basename(p), read(p))

# state: both files, every field.
put("state", "state.json", json.dumps({
    "apiVersion": "kubelet-certd.io/v1alpha1", "kind": "State",
    "client": {"pendingCSR": {"name": "node-csr-abc", "keySha256": "ab" * 32, "filed": True, "filedAt": "2026-11-22T10:32:28Z"},
               "rotationDeadline": "2027-01-01T00:00:00Z", "lastCSRCreated": "2026-11-22T10:32:28Z",
               "nextCSRNotBefore": "2026-11-22T10:37:28Z", "lastSuccess": "2026-11-22T10:32:30Z",
               "lastError": "denied", "lastErrorAt": "2026-11-22T10:32:29Z", "csrsCreated": 3},
    "serving": {}}, indent=2))
put("state", "change-state.json", json.dumps({
    "apiVersion": "kubelet-certd.io/v1alpha1", "kind": "KubeletChangeState",
    "pendingChange": {"config": "/var/lib/kubelet/config.yaml", "backup": "/var/lib/kubelet/config.yaml.bak",
                      "patchedSha256": "cd" * 32, "keys": ["readOnlyPort"], "fingerprint": "1.30.0|cis",
                      "since": "2026-11-22T10:32:28Z"},
    "refused": {"fingerprint": "1.30.0|cis", "keys": {"seccompDefault": "rolled back"}, "at": "2026-11-22T10:32:28Z"},
    "rollbacks": 1, "kubelet": "1.30.0"}, indent=2))

# cis: the golden kubelet configs with a kubeadm command line, and kube-bench's definitions.
flags = "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml --read-only-port=0"
for p in sorted(glob.glob(os.path.join(FIX, "kubelet-config/*.yaml"))):
    put("cis", os.path.basename(p), read(p).decode() + SEP + flags)
put("cis", "definitions.yaml", read(os.path.join(FIX, "kubelet-config/kubeadm.out.yaml")).decode() + SEP + flags + SEP +
    read(os.path.join(ROOT, "kubelet/kube-bench/cis-1.12-node.yaml")).decode())

# http_response: the recorded raw watch responses, and each capture rebuilt as a response
# (first byte: bit 0 = read as a watch, the rest = read size).
for p in sorted(glob.glob(os.path.join(FIX, "k8s-api/*.http-raw.txt"))):
    put("http_response", os.path.basename(p), b"\x01" + read(p))
    put("http_response", os.path.basename(p) + ".small-reads", b"\x03" + read(p))
for name, res in captures():
    body = (res.get("body_raw") or json.dumps(res.get("body"))).encode()
    head = "HTTP/1.1 %d %s\r\n" % (res["status"], res.get("reason", ""))
    for k, v in res.get("headers", {}).items():
        if k.lower() not in ("content-length", "transfer-encoding"):
            head += "%s: %s\r\n" % (k, v)
    head += "Content-Length: %d\r\n\r\n" % len(body)
    put("http_response", name + ".http", b"\x00" + head.encode() + body)

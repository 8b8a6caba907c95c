#include "kubelet/cis_evaluate.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>

namespace kcd::kubelet {

namespace {

// "file:line:column" with the parts that are known.
std::string position(const Location& where) {
  std::string out = where.file;
  if (where.line > 0) {
    out += ":" + std::to_string(where.line);
    if (where.column > 0) out += ":" + std::to_string(where.column);
  }
  return out;
}

bool missing(const Error& e) {
  return e.kind == ErrorKind::Io && e.code == ENOENT;
}

const CisFile* file_for(const CisFacts& f, CisFileRole role) {
  switch (role) {
    case CisFileRole::Kubeconfig:
      return &f.kubeconfig;
    case CisFileRole::ClientCa:
      return &f.client_ca_file;
    case CisFileRole::Config:
      return &f.kubelet_config;
    case CisFileRole::None:
      break;
  }
  return nullptr;
}

// The config file as kube-bench's `cat $kubeletconf` would see it, or why it cannot.
struct ConfigView {
  std::optional<CisConfigDocument> document;
  std::string problem;  // evidence when there is no document
};

ConfigView view_config(const CisFacts& f) {
  ConfigView v;
  const std::string conf = f.kubelet_config.path.string();
  if (!f.kubelet_config_text) {
    const Error& e = f.kubelet_config_text.error();
    v.problem = missing(e) ? "kubelet config file " + conf + " is missing"
                           : "kubelet config file " + conf + " cannot be read (" + e.format() + ")";
    return v;
  }
  auto doc = CisConfigDocument::parse(*f.kubelet_config_text, conf);
  if (doc) {
    v.document = std::move(*doc);
  } else {
    v.problem = "kubelet config file " + position(doc.error().where) + " is " + doc.error().message;
  }
  return v;
}

// Where the kubelet's flag that an item found is written: the last flag whose "--name=value"
// contains the item's flag (what kube-bench's substring match saw).
std::string flag_evidence(const KubeletCommandLine& cl, const CisTestItem& t, const CisItemOutcome& o) {
  for (auto it = cl.flags.rbegin(); it != cl.flags.rend(); ++it) {
    if ((it->name + "=" + it->value).find(t.flag) != std::string::npos) {
      return "kubelet flag " + it->name + "=" + it->value + " (" + it->where + ")";
    }
  }
  return "kubelet flag " + t.flag + "=" + o.value;
}

constexpr std::string_view kRotationNote =
    "\nkubelet-certd rotates the kubelet's client and serving certificates itself; it removes "
    "rotateCertificates, serverTLSBootstrap and a false RotateKubeletServerCertificate gate from the config "
    "file (absent passes this check) so that two rotators never race on one store. Keep them off the "
    "kubelet's command line.";

}  // namespace

bool cis_check_in_scope(std::string_view id) {
  static const std::set<std::string, std::less<>> ids = {
      "4.1.5", "4.1.6", "4.1.7", "4.1.8", "4.1.9", "4.1.10", "4.2.1",  "4.2.2",  "4.2.3",  "4.2.4",
      "4.2.5", "4.2.6", "4.2.7", "4.2.8", "4.2.9", "4.2.10", "4.2.11", "4.2.12", "4.2.13", "4.2.14"};
  return ids.count(id) > 0;
}

std::vector<CisResult> evaluate_cis(const CisFacts& f, const CisDefinitions& defs) {
  const KubeletCommandLine& cl = f.command_line;
  const std::string conf = f.kubelet_config.path.string();
  const ConfigView config = view_config(f);
  const CisVariables vars{f.kubelet_config.path, f.kubeconfig.path, f.client_ca_file.path,
                          cis_kubelet_service(cl)};

  std::vector<CisResult> out;
  for (const auto& d : defs.checks) {
    if (!cis_check_in_scope(d.id)) continue;
    CisResult r;
    r.id = d.id;
    r.title = d.text;
    r.scored = d.scored;
    r.remediation = cis_remediation(d.remediation, vars);
    std::vector<std::string> evidence;
    std::vector<CisItemOutcome> outcomes;
    bool failed = false;  // the audit itself failed: kube-bench fails the check

    if (d.audit != CisAudit::KubeletCommand) {
      const CisFile* file = file_for(f, d.file);
      std::string output;
      if (file && file->stat) {
        output = cis_stat_output(d.audit, file->stat->mode, file->stat->user, file->stat->group);
        evidence.push_back(file->path.string() + ": " + output);
      } else if (file && !missing(file->stat.error())) {
        evidence.push_back(file->stat.error().format());
      } else {
        evidence.push_back((file ? file->path.string() : std::string()) + ": missing");
      }
      for (const auto& t : d.items) outcomes.push_back(cis_flag_item(t, output));
      r.fixable = !output.empty();
    } else {
      if (d.audit_config && !config.document) {
        failed = true;  // kube-bench: `cat $kubeletconf` fails, the check fails
        evidence.push_back(config.problem);
      }
      bool decided_by_file = true;
      for (const auto& t : d.items) {
        CisItemOutcome o = cis_flag_item(t, cl.text);
        if (o.found) {
          decided_by_file = false;
          evidence.push_back(flag_evidence(cl, t, o));
        } else if (d.audit_config && config.document) {
          o = cis_path_item(t, *config.document);
          evidence.push_back(!t.path
                                 ? t.flag + " not on the command line"
                                 : (o.found ? t.path->text + " = " + o.value : t.path->text + " not set") +
                                       " in " + conf);
        } else {
          evidence.push_back(t.flag + " not on the kubelet command line");
        }
        outcomes.push_back(std::move(o));
      }
      if (cl.origin.empty())
        evidence.push_back("no kubelet command line found (no running kubelet, no service files)");
      else
        evidence.push_back("command line from " + cl.origin);
      r.fixable = d.audit_config && decided_by_file;
    }
    // De-duplicate (both items of an `or` often name the same path).
    std::vector<std::string> unique;
    for (auto& e : evidence) {
      if (std::find(unique.begin(), unique.end(), e) == unique.end()) unique.push_back(std::move(e));
    }
    for (std::size_t i = 0; i < unique.size(); ++i) r.evidence += (i ? "; " : "") + unique[i];

    r.status = cis_verdict(!failed && cis_combine(d.bin_op, outcomes), d.scored);

    if (d.id == "4.2.10" || d.id == "4.2.11") r.remediation += kRotationNote;
    if (r.fixable && r.status != CisStatus::Pass)
      r.remediation += "\n`kubelet-certd check --fix` applies this.";
    // A key this kubelet would refuse is not written: the check is a warning with the reason.
    for (const auto& h : f.held_back) {
      if (h.cis.empty() || h.cis != r.id || r.status == CisStatus::Pass) continue;
      r.status = CisStatus::Warn;
      r.evidence += "; not written by kubelet-certd: " + h.reason;
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace kcd::kubelet

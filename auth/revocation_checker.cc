#include "auth/revocation_checker.h"

#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "auth/pki/crl.h"
#include "auth/pki/key_file.h"
#include "common/log.h"
#include "common/status_details.h"

namespace refx::auth {
namespace {

std::string Rfc3339(absl::Time t) { return pki::FormatRfc3339(t); }

std::string DaysLeft(absl::Duration left) {
  return absl::StrCat(absl::ToInt64Hours(left) / 24, "d",
                      absl::ToInt64Hours(left) % 24, "h");
}

// Serial of the first certificate in `pem`, and the certificate.
absl::StatusOr<pki::Certificate> FirstCertificate(std::string_view pem) {
  return pki::Certificate::FromPem(pem);
}

}  // namespace

RevocationChecker::RevocationChecker(Options options) : options_(std::move(options)) {
  Poll();
  if (options_.start_thread) thread_ = std::thread([this] { Run(); });
}

RevocationChecker::~RevocationChecker() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void RevocationChecker::Run() {
  while (!stop_.WaitForNotificationWithTimeout(options_.poll_interval)) Poll();
}

RevocationChecker::FileStamp RevocationChecker::Stamp(const std::string& path) {
  FileStamp stamp;
  struct stat info;
  if (path.empty() || stat(path.c_str(), &info) != 0) return stamp;
  stamp.exists = true;
  stamp.device = static_cast<long long>(info.st_dev);
  stamp.inode = static_cast<long long>(info.st_ino);
  stamp.size = static_cast<long long>(info.st_size);
  stamp.mtime_ns = static_cast<long long>(info.st_mtim.tv_sec) * 1000000000LL + info.st_mtim.tv_nsec;
  return stamp;
}

std::shared_ptr<const RevocationChecker::Snapshot> RevocationChecker::snapshot() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

int64_t RevocationChecker::sequence() const {
  auto s = snapshot();
  return s != nullptr && s->load_status.ok() && !options_.revocation_list_file.empty() ? s->list.sequence : -1;
}

std::shared_ptr<const RevocationChecker::Snapshot> RevocationChecker::Load(int64_t previous_sequence) const {
  auto snapshot = std::make_shared<Snapshot>();
  if (!options_.client_ca_file.empty()) {
    absl::StatusOr<std::string> pem = pki::ReadWholeFile(options_.client_ca_file);
    if (pem.ok()) {
      auto cas = pki::Certificate::AllFromPem(*pem);
      if (cas.ok()) snapshot->agency_cas = *std::move(cas);
    }
  }
  if (options_.revocation_list_file.empty()) return snapshot;
  absl::StatusOr<std::string> text = pki::ReadWholeFile(options_.revocation_list_file);
  if (!text.ok()) {
    snapshot->load_status = absl::UnavailableError(
        absl::StrCat("revocation list ", options_.revocation_list_file, " is missing or unreadable (",
                     text.status().message(), ")"));
    return snapshot;
  }
  absl::StatusOr<pki::RevocationList> list = pki::ParseRevocationList(*text, snapshot->agency_cas);
  if (!list.ok()) {
    snapshot->load_status = absl::UnavailableError(
        absl::StrCat("revocation list ", options_.revocation_list_file, " is unusable: ", list.status().message()));
    return snapshot;
  }
  if (list->sequence < previous_sequence) {
    snapshot->load_status = absl::UnavailableError(absl::StrCat(
        "revocation list ", options_.revocation_list_file, " went back from sequence ", previous_sequence, " to ",
        list->sequence, " (an old copy restored?); republish with `refx-admin crl publish`"));
    return snapshot;
  }
  snapshot->list = *std::move(list);
  for (const pki::RevokedCertificate& entry : snapshot->list.revoked) {
    snapshot->revoked.emplace(entry.serial_hex, &entry);
  }
  return snapshot;
}

absl::Status RevocationChecker::HealthOf(const Snapshot& s) const {
  if (options_.revocation_list_file.empty()) return absl::OkStatus();
  if (!s.load_status.ok()) return s.load_status;
  if (options_.now() >= s.list.next_update) {
    return absl::UnavailableError(absl::StrCat("revocation list ", options_.revocation_list_file, " (sequence ",
                                               s.list.sequence, ") expired at ", Rfc3339(s.list.next_update),
                                               "; run `refx-admin crl publish` and copy the list here"));
  }
  return absl::OkStatus();
}

absl::Status RevocationChecker::Health() const {
  auto s = snapshot();
  return s == nullptr ? absl::UnavailableError("revocation list not loaded yet") : HealthOf(*s);
}

RevocationChecker::Timings RevocationChecker::CurrentTimings() const {
  Timings timings;
  auto s = snapshot();
  if (!options_.revocation_list_file.empty() && s != nullptr && s->load_status.ok()) {
    timings.list_generated = s->list.generated;
    timings.list_next_update = s->list.next_update;
  }
  if (!options_.server_cert_file.empty()) {
    auto pem = pki::ReadWholeFile(options_.server_cert_file);
    auto info = pem.ok() ? pki::InspectCertificatePem(*pem) : absl::StatusOr<pki::CertificateInfo>(pem.status());
    if (info.ok()) timings.server_certificate_not_after = info->not_after;
  }
  return timings;
}

absl::Status RevocationChecker::CheckPeer(std::string_view leaf_pem, std::string_view chain_pem) const {
  if (options_.revocation_list_file.empty()) return absl::OkStatus();
  auto s = snapshot();
  if (s == nullptr) {
    return WithErrorInfo(absl::UnauthenticatedError("revocation list not loaded yet (fail closed)"),
                         "REVOCATION_STATE_UNKNOWN");
  }
  if (absl::Status health = HealthOf(*s); !health.ok()) {
    return WithErrorInfo(absl::UnauthenticatedError(
                             absl::StrCat("agency connections refused (fail closed): ", health.message())),
                         "REVOCATION_STATE_UNKNOWN");
  }
  auto facts = FactsOf(*s, leaf_pem, chain_pem);
  if (!facts->problem.ok()) return WithErrorInfo(facts->problem, "CERTIFICATE_UNVERIFIABLE");
  auto refuse = [](const std::string& what, const pki::RevokedCertificate& entry) {
    return WithErrorInfo(absl::UnauthenticatedError(absl::StrCat(what, " serial ", entry.serial_hex,
                                                                 " was revoked at ", Rfc3339(entry.revoked_at),
                                                                 " (", entry.reason, ")")),
                         "CERTIFICATE_REVOKED");
  };
  if (auto it = s->revoked.find(facts->leaf_serial); it != s->revoked.end()) {
    return refuse("client certificate", *it->second);
  }
  for (const std::string& serial : facts->ca_serials) {
    if (auto it = s->revoked.find(serial); it != s->revoked.end()) {
      return refuse("issuing CA certificate", *it->second);
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<const RevocationChecker::PeerFacts> RevocationChecker::FactsOf(const Snapshot& s,
                                                                               std::string_view leaf_pem,
                                                                               std::string_view chain_pem) const {
  std::string key;
  key.reserve(leaf_pem.size() + chain_pem.size() + 1);
  key.append(leaf_pem).push_back('\0');
  key.append(chain_pem);
  {
    absl::MutexLock lock(&s.facts_mu);
    auto it = s.facts.find(key);
    if (it != s.facts.end()) return it->second;
  }
  auto facts = std::make_shared<PeerFacts>();
  [&] {
    auto leaf = FirstCertificate(leaf_pem);
    if (!leaf.ok()) {
      facts->problem = absl::UnauthenticatedError("client certificate is unreadable");
      return;
    }
    auto leaf_info = pki::InspectCertificate(*leaf);
    if (!leaf_info.ok()) {
      facts->problem = absl::UnauthenticatedError("client certificate is unreadable");
      return;
    }
    facts->leaf_serial = leaf_info->serial_hex;
    if (!chain_pem.empty()) {
      auto chain = pki::Certificate::AllFromPem(chain_pem);
      if (chain.ok()) {
        for (const pki::Certificate& cert : *chain) {
          auto info = pki::InspectCertificate(cert);
          if (info.ok()) facts->ca_serials.push_back(info->serial_hex);
        }
      }
    }
    // The peer need not send its issuing CA (the server trusts it as an
    // anchor), so find the issuer in our own bundle and check it too.
    bool issuer_found = false;
    for (const pki::Certificate& ca : s.agency_cas) {
      if (X509_check_issued(ca.get(), leaf->get()) != X509_V_OK) continue;
      EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());
      if (ca_key == nullptr || X509_verify(leaf->get(), ca_key) != 1) continue;
      issuer_found = true;
      auto info = pki::InspectCertificate(ca);
      if (info.ok()) facts->ca_serials.push_back(info->serial_hex);
    }
    ERR_clear_error();
    if (!issuer_found) {
      facts->problem = absl::UnauthenticatedError(
          "the client certificate's issuer is not in tls.client_ca_file (CA bundle changing?)");
    }
  }();
  absl::MutexLock lock(&s.facts_mu);
  if (s.facts.size() >= 4096) s.facts.clear();  // many distinct peers: start over rather than grow
  s.facts.emplace(std::move(key), facts);
  return facts;
}

std::vector<std::pair<std::string, std::string>> RevocationChecker::ComputeWarnings(const Snapshot& s) const {
  std::vector<std::pair<std::string, std::string>> out;  // (key, message)
  const absl::Time now = options_.now();
  auto check = [&](const std::string& key, const std::string& what, absl::Time end) {
    const absl::Duration left = end - now;
    if (left < options_.expiry_warning) {
      out.emplace_back(key, left <= absl::ZeroDuration()
                                ? absl::StrCat(what, " expired at ", Rfc3339(end))
                                : absl::StrCat(what, " expires at ", Rfc3339(end), " (in ", DaysLeft(left), ")"));
    }
  };
  if (!options_.server_cert_file.empty()) {
    auto pem = pki::ReadWholeFile(options_.server_cert_file);
    auto info = pem.ok() ? pki::InspectCertificatePem(*pem) : absl::StatusOr<pki::CertificateInfo>(pem.status());
    if (info.ok()) check("server", absl::StrCat("server certificate ", options_.server_cert_file), info->not_after);
  }
  for (const pki::Certificate& ca : s.agency_cas) {
    auto info = pki::InspectCertificate(ca);
    if (info.ok()) {
      check("ca:" + info->serial_hex,
            absl::StrCat("agency CA \"", info->subject, "\" (serial ", info->serial_hex, ")"), info->not_after);
    }
  }
  if (!options_.revocation_list_file.empty() && s.load_status.ok()) {
    check("list", absl::StrCat("revocation list ", options_.revocation_list_file, " (next update)"),
          s.list.next_update);
  }
  if (!options_.crl_directory.empty()) {
    static const std::regex kCrlName("^[0-9a-f]{8}\\.r[0-9]+$");
    std::map<std::string, std::pair<absl::Time, absl::Time>> newest;  // hash -> (last, next)
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(options_.crl_directory, error)) {
      const std::string name = entry.path().filename().string();
      if (!std::regex_match(name, kCrlName)) continue;
      auto pem = pki::ReadWholeFile(entry.path().string());
      if (!pem.ok()) continue;
      auto info = pki::InspectCrlPem(*pem);
      if (!info.ok()) continue;
      auto& slot = newest[name.substr(0, 8)];
      if (info->last_update >= slot.first) slot = {info->last_update, info->next_update};
    }
    for (const auto& [hash, times] : newest) {
      check("crl:" + hash, absl::StrCat("CRL ", options_.crl_directory, "/", hash, ".r* (next update)"),
            times.second);
    }
  }
  return out;
}

std::vector<std::string> RevocationChecker::Warnings() const {
  absl::MutexLock lock(&mu_);
  return warnings_;
}

void RevocationChecker::Poll() {
  absl::MutexLock poll_lock(&poll_mu_);
  const FileStamp list_stamp = Stamp(options_.revocation_list_file);
  const FileStamp ca_stamp = Stamp(options_.client_ca_file);
  std::shared_ptr<const Snapshot> current = snapshot();
  const bool reload = current == nullptr || !(list_stamp == list_stamp_) || !(ca_stamp == ca_stamp_) ||
                      !current->load_status.ok();
  if (reload) {
    const int64_t previous = current != nullptr && current->load_status.ok() ? current->list.sequence : -1;
    auto fresh = Load(previous);
    list_stamp_ = list_stamp;
    ca_stamp_ = ca_stamp;
    // A list that went backwards is reported, but the newer one stays in force.
    const bool rollback = current != nullptr && current->load_status.ok() && !fresh->load_status.ok() &&
                          fresh->load_status.message().find("went back") != absl::string_view::npos;
    if (rollback) {
      log::Error("revocation_list_rollback", {{"reason", std::string(fresh->load_status.message())}});
    } else {
      if (fresh->load_status.ok() && !options_.revocation_list_file.empty() &&
          (current == nullptr || !current->load_status.ok() || current->list.sequence != fresh->list.sequence ||
           first_poll_)) {
        log::Info("revocation_list_loaded", {{"file", options_.revocation_list_file},
                                             {"sequence", fresh->list.sequence},
                                             {"revoked", fresh->list.revoked.size()},
                                             {"next_update", Rfc3339(fresh->list.next_update)}});
      }
      absl::MutexLock lock(&mu_);
      snapshot_ = fresh;
      current = fresh;
    }
  }
  const absl::Status health = HealthOf(*current);
  if (health.ok() != last_healthy_ || (first_poll_ && !health.ok())) {
    if (health.ok()) {
      log::Info("revocation_list_usable", {{"file", options_.revocation_list_file}});
    } else {
      log::Error("revocation_list_unusable",
                 {{"reason", std::string(health.message())}, {"effect", "agency connections refused"}});
    }
    last_healthy_ = health.ok();
  }
  std::vector<std::string> lines;
  const absl::Time now = options_.now();
  for (const auto& [key, message] : ComputeWarnings(*current)) {
    lines.push_back(message);
    auto it = last_warned_.find(key);
    if (it == last_warned_.end() || now - it->second >= options_.warning_repeat) {
      log::Warning("certificate_expiring", {{"what", message}});
      last_warned_[key] = now;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    warnings_ = std::move(lines);
  }
  first_poll_ = false;
}

}  // namespace refx::auth

#include "clients/admin/key_commands.h"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "clients/admin/admin_common.h"
#include "common/status_macros.h"
#include "core/auditor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "server/server_config.h"
#include "server/server_store.h"

namespace refx::admin {
namespace {

// The audit event of a key operation: it changes how every value is stored,
// not what any record says, and discloses nothing.
storage::AuditRecord KeyEvent(const std::string& method, const std::string& purpose) {
  storage::AuditRecord event;
  event.time = absl::Now();
  event.action = core::AuditActionName(core::AuditAction::kAlteration);
  event.method = method;
  event.agency_id = "refx-admin";
  event.purpose = purpose;
  event.outcome = "OK";
  return event;
}

// A census line: "key 1: 120, key 2: 3, not encrypted: 4".
std::string Census(const std::map<uint32_t, int64_t>& found) {
  std::vector<std::string> parts;
  for (const auto& [key_id, count] : found) {
    parts.push_back(key_id == 0 ? absl::StrCat("not encrypted: ", count) : absl::StrCat("key ", key_id, ": ", count));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
}

}  // namespace

KeyCommands::KeyCommands(CLI::App* app) {
  CLI::App* keys = app->add_subcommand("keys", "The data keys that encrypt personal data at rest");
  keys->require_subcommand(1);
  rotate_ = keys->add_subcommand("rotate", "Make a new data key; every value written from now on is sealed with it");
  reencrypt_ = keys->add_subcommand(
      "reencrypt", "Move every stored value to the newest data key (and seal values stored before encryption)");
  for (CLI::App* command : {rotate_, reencrypt_}) {
    command
        ->add_option("--config", config_file_,
                     "The server's config file: its storage and key files are used as the server uses them")
        ->required()
        ->check(CLI::ExistingFile);
    command->add_option("--output", output_, "table or json")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
  }
  reencrypt_->add_option("--page-size", page_size_, "Rows rewritten per transaction")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  rotate_->footer(
      "The new key is random, wrapped by the key-encryption key (storage.encryption_key_file) and stored in the\n"
      "database beside the older ones, which stay readable by the key id every value carries. Running replicas\n"
      "pick it up within seconds (at their next health check, or the first value they read under it). Then run\n"
      "`refx-admin keys reencrypt` to move what is stored to it. Audited (ALTERATION).\n"
      "On SQLite stop the server first (one writer at a time); on PostgreSQL it runs beside the replicas.\n\n"
      "EXAMPLES\n"
      "  refx-admin keys rotate --config /etc/refx/server.yaml\n"
      "  refx-admin keys rotate --config /etc/refx/server.yaml && refx-admin keys reencrypt --config "
      "/etc/refx/server.yaml\n");
  reencrypt_->footer(
      "Rewrites every sealed value (referral rows, event log copies, stored retry responses, case updates) that\n"
      "is not under the newest data key, a page per transaction beside live writes; no document, etag or event\n"
      "changes. Values stored before encryption at rest was turned on are sealed too. It then scans again until a\n"
      "pass finds nothing to move (at most three passes), so a value written under the old key by a replica that\n"
      "had not yet picked up the new one is moved as well. Safe to interrupt and to run again. Progress goes to\n"
      "stderr. Exit 1 if the last pass still found values to move (run it again). Audited (ALTERATION).\n\n"
      "EXAMPLES\n"
      "  refx-admin keys reencrypt --config /etc/refx/server.yaml\n"
      "  refx-admin keys reencrypt --config /etc/refx/server.yaml --output json\n");
}

std::optional<int> KeyCommands::RunIfParsed() const {
  if (rotate_->parsed()) return RunRotate();
  if (reencrypt_->parsed()) return RunReencrypt();
  return std::nullopt;
}

int KeyCommands::RunRotate() const {
  auto config = server::LoadServerConfig(config_file_);
  if (!config.ok()) return Fail("keys rotate", config.status());
  auto store = server::OpenServerStore(*config, "keys rotate");
  if (!store.ok()) return Fail("keys rotate", store.status());
  auto rotation = (*store)->RotateDataKey(KeyEvent("refx-admin keys rotate", "encryption key rotation"));
  if (!rotation.ok()) return Fail("keys rotate", rotation.status());
  if (output_ == "json") {
    google::protobuf::Struct out;
    (*out.mutable_fields())["keyId"].set_number_value(rotation->key_id);
    (*out.mutable_fields())["dataKeys"].set_number_value(rotation->data_keys);
    return PrintJson("keys rotate", out);
  } else {
    std::printf("data key %u made; new values are sealed with it (%d data keys in the database)\n"
                "next: refx-admin keys reencrypt --config %s\n",
                rotation->key_id, rotation->data_keys, config_file_.c_str());
  }
  return 0;
}

int KeyCommands::RunReencrypt() const {
  auto config = server::LoadServerConfig(config_file_);
  if (!config.ok()) return Fail("keys reencrypt", config.status());
  auto store = server::OpenServerStore(*config, "keys reencrypt");
  if (!store.ok()) return Fail("keys reencrypt", store.status());
  // Audited before the first value moves (no audit, no run) and again with
  // the result, so a run that fails midway is on the record too.
  storage::AuditRecord started = KeyEvent("refx-admin keys reencrypt", "encryption key rotation");
  started.reason = "started: every stored value to the newest data key";
  if (absl::Status audited = (*store)->RecordAudit(started); !audited.ok()) return Fail("keys reencrypt", audited);
  const bool terminal = isatty(STDERR_FILENO) != 0;
  auto progress = [terminal](const storage::ReencryptProgress& p) {
    // Every page on a terminal (one line rewritten in place); otherwise a
    // line per table and pass, for a log.
    if (!terminal && !p.table_done) return;
    std::fprintf(stderr, "%spass %d  %-16s %lld examined, %lld moved%s", terminal ? "\r" : "", p.pass,
                 p.table.c_str(), static_cast<long long>(p.values_examined),
                 static_cast<long long>(p.values_rewritten), terminal ? "   " : "\n");
  };
  auto report = (*store)->ReencryptStoredValues(page_size_, progress);
  if (terminal) std::fprintf(stderr, "\n");
  storage::AuditRecord ended = KeyEvent("refx-admin keys reencrypt", "encryption key rotation");
  if (!report.ok()) {
    // Best effort: the store may be what failed. The start is on record.
    ended.outcome = absl::StatusCodeToString(report.status().code());
    ended.reason = "stopped before every value was moved";
    (void)(*store)->RecordAudit(ended);
    return Fail("keys reencrypt", report.status());
  }
  ended.reason = absl::StrCat("data key ", report->key_id, ": ", report->values_rewritten, " values moved");
  if (absl::Status audited = (*store)->RecordAudit(ended); !audited.ok()) return Fail("keys reencrypt", audited);
  if (output_ == "json") {
    google::protobuf::Struct out;
    auto& fields = *out.mutable_fields();
    fields["keyId"].set_number_value(report->key_id);
    fields["passes"].set_number_value(report->passes);
    fields["valuesExamined"].set_number_value(static_cast<double>(report->values_examined));
    fields["valuesRewritten"].set_number_value(static_cast<double>(report->values_rewritten));
    fields["valuesLeft"].set_number_value(static_cast<double>(report->values_left));
    auto& found = *fields["foundByKey"].mutable_struct_value()->mutable_fields();
    for (const auto& [key_id, count] : report->found_by_key) {
      found[key_id == 0 ? "unencrypted" : absl::StrCat(key_id)].set_number_value(static_cast<double>(count));
    }
    if (int rc = PrintJson("keys reencrypt", out); rc != 0) return rc;
  } else {
    std::printf("found %lld stored values (%s)\nmoved %lld to data key %u in %d %s\n",
                static_cast<long long>(report->values_examined), Census(report->found_by_key).c_str(),
                static_cast<long long>(report->values_rewritten), report->key_id, report->passes,
                report->passes == 1 ? "pass" : "passes");
    if (report->values_left > 0) {
      std::printf("the last pass still found %lld values under an older key: a replica has not picked up key %u "
                  "yet; run again\n",
                  static_cast<long long>(report->values_left), report->key_id);
    }
  }
  return report->values_left > 0 ? 1 : 0;
}

}  // namespace refx::admin

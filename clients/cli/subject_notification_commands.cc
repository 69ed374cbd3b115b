// `refx subject-notify` and `refx subject-notifications`: the sending police
// force's record of notifying a non-crime hate incident's subject (the NCHI
// Code of Practice: told, replied, or withheld with a reason), kept apart
// from the referral, so recording a step needs no etag and changes nothing
// any partner reads.
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "clients/cli/commands_internal.h"
#include "clients/cli/output.h"
#include "common/status_macros.h"

namespace refx::cli {

using refx::client::ReferralClient;
using refx::v1::SubjectNotification;

void AddSubjectNotifications(CLI::App* app, CommandLine* f) {
  CLI::App* n =
      app->add_subcommand("subject-notify", "Record a step of notifying an NCHI's subject (the sending police force)");
  f->subject_notify = n;
  n->add_option("NAME_OR_ID", f->name, "referrals/ID or ID")->required();
  AddEnumOption(n, "--status", &f->notify_status, SubjectNotification::Status_descriptor(),
                "Where the notification stands after this step")
      ->required();
  AddEnumOption(n, "--reason", &f->notify_reason, SubjectNotification::WithheldReason_descriptor(),
                "With --status withheld (and only then): why the subject is not told");
  n->add_option("--note", f->note,
                "The officer's note, at most 1 KiB (it is subject data, shared as the "
                "subject compartment is)");
  n->add_option("--when", f->notify_when, "When it happened, RFC 3339 (default: now)");
  n->add_option("--request-id", f->request_id, "Idempotency key; a retry with the same id is safe (default: new)");
  n->footer(
      "Under the NCHI Code of Practice the subject of a recorded non-crime hate incident is told, with a\n"
      "right to reply, unless that would create a safeguarding risk or prejudice an investigation. Only\n"
      "the force that sent the referral records the steps, only while the referral holds a subject record,\n"
      "and only if the agreement lets its role read the subject compartment (DATA_CLASS_NCHI_SUBJECT).\n"
      "The steps are kept apart from the referral: partners see no change, and they are erased with the\n"
      "subject record.\n\n"
      "EXAMPLES\n"
      "  refx subject-notify 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --status notified --when 2026-11-30T10:00:00Z\n"
      "  refx subject-notify 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --status withheld \\\n"
      "      --reason prejudice-to-investigation --note \"Review after the interview on 14 December\"\n");
  n->fallthrough();

  CLI::App* l = app->add_subcommand("subject-notifications", "List the notification steps of an NCHI's subject");
  f->subject_notifications = l;
  l->add_option("NAME_OR_ID", f->name, "referrals/ID or ID")->required();
  l->footer(
      "Needs the agreement to let your role read the subject compartment (DATA_CLASS_NCHI_SUBJECT).\n\n"
      "EXAMPLES\n"
      "  refx subject-notifications 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --output json\n");
  l->fallthrough();
}

absl::StatusOr<refx::v1::RecordSubjectNotificationRequest> BuildSubjectNotification(const CommandLine& f,
                                                                                    const std::string& name) {
  refx::v1::RecordSubjectNotificationRequest r;
  r.set_parent(name);
  SubjectNotification* step = r.mutable_notification();
  step->set_status(static_cast<SubjectNotification::Status>(
      ParseEnumLabel(SubjectNotification::Status_descriptor(), f.notify_status).value_or(0)));
  if (!f.notify_reason.empty()) {
    step->set_withheld_reason(static_cast<SubjectNotification::WithheldReason>(
        ParseEnumLabel(SubjectNotification::WithheldReason_descriptor(), f.notify_reason).value_or(0)));
  }
  step->set_note(f.note);
  if (!f.notify_when.empty()) {
    REFX_ASSIGN_OR_RETURN(*step->mutable_occur_time(), ParseRfc3339(f.notify_when, "--when"));
  }
  return r;
}

int RunSubjectNotify(ReferralClient& client, std::string request_id, refx::v1::RecordSubjectNotificationRequest request,
                     OutputFormat format) {
  if (request_id.empty()) {
    auto id = NewRequestId();
    if (!id.ok()) return Fail(id.status(), format, /*local=*/false);
    request_id = *id;
  }
  request.set_request_id(request_id);
  auto step = client.RecordSubjectNotification(request);
  if (!step.ok()) return Fail(step.status(), format, false, request_id);
  std::cout << (format == OutputFormat::kJson ? RenderJson(*step) : RenderKeyValues(*step));
  return kExitOk;
}

int RunSubjectNotifications(ReferralClient& client, const std::string& name, OutputFormat format) {
  refx::v1::ListSubjectNotificationsRequest request;
  request.set_parent(name);
  auto steps = client.ListSubjectNotifications(request);
  if (!steps.ok()) return Fail(steps.status(), format, false);
  if (format == OutputFormat::kJson) {
    std::cout << RenderJson(*steps);
  } else {
    if (steps->notifications().empty()) std::cout << "no notification steps recorded\n";
    for (const SubjectNotification& step : steps->notifications()) std::cout << RenderKeyValues(step) << "\n";
  }
  return kExitOk;
}

}  // namespace refx::cli

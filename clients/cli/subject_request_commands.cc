// `refx sar`: the data protection officer's register of data subject
// requests (access, rectification, erasure, restriction, objection) and
// their statutory clocks.
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/commands_internal.h"
#include "clients/cli/output.h"

namespace refx::cli {
namespace {

using refx::client::ReferralClient;
using refx::v1::SubjectRequest;
using refx::v1::SubjectRequestStep;

absl::StatusOr<std::string> SubjectRequestName(const std::string& name_or_id) {
  const std::string id = absl::StartsWith(name_or_id, "subjectRequests/")
                             ? name_or_id.substr(std::string("subjectRequests/").size())
                             : name_or_id;
  if (id.empty() || absl::StrContains(id, "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name_or_id, "\" is not a subject request name (subjectRequests/ID) or id"));
  }
  return absl::StrCat("subjectRequests/", id);
}

std::string Flags(const SubjectRequest& r) {
  std::vector<std::string> flags;
  if (r.extended()) flags.push_back("EXTENDED");
  if (r.overdue()) flags.push_back("OVERDUE");
  return absl::StrJoin(flags, ",");
}

void PrintOne(const SubjectRequest& r) {
  std::cout << Sanitize(r.name()) << "\n"
            << "  kind       " << EnumLabel(SubjectRequest::Kind_descriptor(), r.kind()) << "\n"
            << "  reference  " << Sanitize(r.reference()) << "\n"
            << "  state      " << EnumLabel(SubjectRequest::State_descriptor(), r.state())
            << (Flags(r).empty() ? "" : absl::StrCat("  ", Flags(r))) << "\n"
            << "  received   " << Sanitize(r.received_date()) << "\n"
            << "  due        " << Sanitize(r.due_date()) << "\n";
  if (!r.extension_deadline().empty()) {
    std::cout << "  extend by  " << Sanitize(r.extension_deadline()) << " (the last day an extension may be told)\n";
  }
  std::cout << "  etag       " << Sanitize(r.etag()) << "\n  steps\n";
  for (const SubjectRequestStep& s : r.steps()) {
    std::cout << "    " << Sanitize(s.date()) << "  " << EnumLabel(SubjectRequestStep::Action_descriptor(), s.action())
              << (s.ground() == SubjectRequestStep::GROUND_UNSPECIFIED
                      ? ""
                      : absl::StrCat(" (", EnumLabel(SubjectRequestStep::Ground_descriptor(), s.ground()), ")"))
              << "  by " << Sanitize(s.agency()) << (s.note().empty() ? "" : absl::StrCat("  ", Sanitize(s.note())))
              << "\n";
  }
  if (r.rectifications_size() > 0) std::cout << "  corrections recorded against it\n";
  for (const refx::v1::Rectification& rectification : r.rectifications()) {
    std::cout << "    " << Sanitize(rectification.correction()) << "  by " << Sanitize(rectification.controller())
              << "  " << FormatTimestamp(rectification.correct_time()) << "\n";
  }
  if (r.restrictions_size() > 0) std::cout << "  restrictions applied to its exports (refx audit bundle)\n";
  for (const refx::v1::SubjectAccessRestriction& restriction : r.restrictions()) {
    std::vector<std::string> classes;
    for (int c : restriction.data_classes()) classes.push_back(EnumLabel(refx::v1::DataClass_descriptor(), c));
    std::cout << "    " << Sanitize(restriction.referral()) << "  " << absl::StrJoin(classes, ", ") << "  "
              << EnumLabel(refx::v1::RestrictionBasis_descriptor(), restriction.basis())
              << (restriction.controller().empty() ? "" : absl::StrCat("  only ", Sanitize(restriction.controller())))
              << "\n";
  }
}

int Answer(const absl::StatusOr<SubjectRequest>& answer, OutputFormat format) {
  if (!answer.ok()) return Fail(answer.status(), format, false);
  if (format == OutputFormat::kJson) {
    std::cout << RenderJson(*answer);
  } else {
    PrintOne(*answer);
  }
  return kExitOk;
}

}  // namespace

void AddSubjectRequests(CLI::App* app, CommandLine* f) {
  f->sar = app->add_subcommand("sar", "Data subject requests and their statutory clocks (data protection officers)");
  f->sar->require_subcommand(1);
  f->sar->footer(
      "A request is due on the corresponding date of the next month, counting the day it was received\n"
      "as day one (the month's last day if it has no such date), moved to the next working day of the\n"
      "agreement's calendar. A pause (identity, clarification, fee) stops the clock; resuming restarts a\n"
      "full month from that day. An extension (two further months) must be told within the first month.\n"
      "The record holds your case reference, never the person: find their referrals with `refx audit\n"
      "subject` and export them with `refx audit bundle`; action an erasure request with `refx sar erase`,\n"
      "and record the controllers' corrections against a rectification request with `refx sar rectified`.\n"
      "These commands need SUBJECT_ACCESS (LLR: the DPO).\n");
  f->sar_open = f->sar->add_subcommand("open", "Record a request received and start its clock");
  AddEnumOption(f->sar_open, "--kind", &f->sar_kind, SubjectRequest::Kind_descriptor(), "The right exercised")
      ->required();
  f->sar_open->add_option("--reference", f->sar_reference, "Your case reference (no personal data)")->required();
  f->sar_open->add_option("--received", f->sar_date, "The day it was received, YYYY-MM-DD (day one)")->required();
  f->sar_open->add_option("--request-id", f->request_id, "Idempotency key; a retry with it is safe (default: new)");
  f->sar_open->footer(
      "EXAMPLE\n"
      "  refx sar open --kind access --reference DPO-2026-0142 --received 2026-09-02 --profile dpo\n");
  f->sar_show = f->sar->add_subcommand("show", "Show a request, its clock and its steps");
  f->sar_show->add_option("NAME", f->name, "The request (id or subjectRequests/ID)")->required();
  f->sar_list = f->sar->add_subcommand("list", "List the requests, oldest recorded first (every page)");
  f->sar_step = f->sar->add_subcommand("step", "Record a step of a request's clock");
  f->sar_step->add_option("NAME", f->name, "The request (id or subjectRequests/ID)")->required();
  AddEnumOption(f->sar_step, "--action", &f->sar_action, SubjectRequestStep::Action_descriptor(),
                "What happened (received is recorded by `open`)")
      ->required();
  f->sar_step->add_option("--date", f->sar_date, "The day it happened, YYYY-MM-DD")->required();
  AddEnumOption(f->sar_step, "--ground", &f->sar_ground, SubjectRequestStep::Ground_descriptor(),
                "Why: paused takes identity|clarification|fee, extended complexity|number-of-requests, refused "
                "manifestly-unfounded|manifestly-excessive|exemption");
  f->sar_step->add_option("--note", f->note, "One line, e.g. the exemption relied on (no personal data)");
  f->sar_step->add_option("--etag", f->etag, "Refuse the step if the request changed since this etag was read");
  f->sar_step->footer(
      "EXAMPLES\n"
      "  refx sar step 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --action paused --ground identity --date 2026-09-04\n"
      "  refx sar step 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --action resumed --date 2026-09-14\n"
      "  refx sar step 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --action extended --ground complexity --date 2026-09-15\n"
      "  refx sar step 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --action answered --date 2026-11-30\n");
  f->sar_erase = f->sar->add_subcommand("erase", "Action an erasure request: erase classes of one referral now");
  f->sar_erase->add_option("NAME", f->name, "The erasure request (id or subjectRequests/ID)")->required();
  f->sar_erase
      ->add_option("--referral", f->sar_referral, "The referral (id or referrals/ID), as `refx audit subject` found it")
      ->required();
  AddEnumList(f->sar_erase, "--class", &f->sar_classes, refx::v1::DataClass_descriptor(),
              "A data class to erase (repeat for more); not referral-core or operational")
      ->required();
  f->sar_erase->footer(
      "The classes are erased everywhere refx stored them, as retention erases them; the referral records\n"
      "the erasure under the request's name and its parties are told on the watch stream. The request\n"
      "must be an open erasure request, and the referral must not be under a legal hold.\n"
      "EXAMPLE\n"
      "  refx sar erase 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --referral 0a1b2c3d4e5f60718293a4b5c6d7e8f9 \\\n"
      "    --class victim-contact --class victim-identity --profile dpo\n");
  f->sar_rectified = f->sar->add_subcommand("rectified", "Action a rectification request: record the correction made");
  f->sar_rectified->add_option("NAME", f->name, "The rectification request (id or subjectRequests/ID)")->required();
  f->sar_rectified
      ->add_option("--correction", f->sar_correction,
                   "The controller's correction case update, referrals/ID/updates/UPDATE (refx updates ID lists them)")
      ->required();
  f->sar_rectified->add_option("--etag", f->etag, "Refuse if the request changed since this etag was read");
  f->sar_rectified->footer(
      "The controller corrects its record itself, with a correction case update that supersedes what was\n"
      "wrong (refx update ID --kind correction --supersedes UPDATE --text ...). This records that correction\n"
      "against the request: refx checks that it is a correction made since the request was received, and\n"
      "keeps which controller made it and when, never its content. Record `answered` once every controller\n"
      "has corrected its part. The request must be an open rectification request.\n"
      "EXAMPLE\n"
      "  refx sar rectified 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 \\\n"
      "    --correction referrals/0a1b2c3d4e5f60718293a4b5c6d7e8f9/updates/9a1b2c3d4e5f60718293a4b5c6d7e8f9 \\\n"
      "    --profile dpo\n");
  for (CLI::App* sub : {f->sar, f->sar_open, f->sar_show, f->sar_list, f->sar_step, f->sar_erase, f->sar_rectified}) {
    sub->fallthrough();
  }
}

int RunSubjectRequests(ReferralClient& client, const CommandLine& f, OutputFormat format) {
  if (f.sar_list->parsed()) {
    refx::v1::ListSubjectRequestsResponse all;
    refx::v1::ListSubjectRequestsRequest request;
    do {
      auto page = client.ListSubjectRequests(request);
      if (!page.ok()) return Fail(page.status(), format, false);
      for (SubjectRequest& r : *page->mutable_subject_requests()) *all.add_subject_requests() = std::move(r);
      request.set_page_token(page->next_page_token());
    } while (!request.page_token().empty());
    if (format == OutputFormat::kJson) {
      std::cout << RenderJson(all);
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const SubjectRequest& r : all.subject_requests()) {
      rows.push_back({r.name(), EnumLabel(SubjectRequest::Kind_descriptor(), r.kind()),
                      EnumLabel(SubjectRequest::State_descriptor(), r.state()), r.received_date(), r.due_date(),
                      Flags(r), r.reference()});
    }
    std::cout << RenderTable({"NAME", "KIND", "STATE", "RECEIVED", "DUE", "FLAGS", "REFERENCE"}, rows);
    return kExitOk;
  }
  if (f.sar_open->parsed()) {
    refx::v1::CreateSubjectRequestRequest request;
    request.mutable_subject_request()->set_kind(
        static_cast<SubjectRequest::Kind>(ParseEnumLabel(SubjectRequest::Kind_descriptor(), f.sar_kind).value_or(0)));
    request.mutable_subject_request()->set_reference(f.sar_reference);
    request.mutable_subject_request()->set_received_date(f.sar_date);
    std::string request_id = f.request_id;
    if (request_id.empty()) {
      auto id = NewRequestId();
      if (!id.ok()) return Fail(id.status(), format, false);
      request_id = *id;
    }
    request.set_request_id(request_id);
    return Answer(client.CreateSubjectRequest(request), format);
  }
  auto name = SubjectRequestName(f.name);
  if (!name.ok()) return Fail(name.status(), format, /*local=*/true);
  if (f.sar_show->parsed()) {
    refx::v1::GetSubjectRequestRequest request;
    request.set_name(*name);
    return Answer(client.GetSubjectRequest(request), format);
  }
  if (f.sar_erase->parsed()) {
    auto referral = ReferralName(f.sar_referral);
    if (!referral.ok()) return Fail(referral.status(), format, /*local=*/true);
    refx::v1::EraseSubjectDataRequest request;
    request.set_subject_request(*name);
    request.set_referral(*referral);
    for (const std::string& label : f.sar_classes) {
      request.add_data_classes(
          static_cast<refx::v1::DataClass>(ParseEnumLabel(refx::v1::DataClass_descriptor(), label).value_or(0)));
    }
    auto erased = client.EraseSubjectData(request);
    if (!erased.ok()) return Fail(erased.status(), format, false);
    if (format == OutputFormat::kJson) {
      std::cout << RenderJson(*erased);
      return kExitOk;
    }
    std::vector<std::string> labels;
    for (int c : erased->erased()) labels.push_back(EnumLabel(refx::v1::DataClass_descriptor(), c));
    if (labels.empty()) {
      std::cout << "nothing to erase: each class was erased from " << Sanitize(erased->referral()) << " before\n";
    } else {
      std::cout << "erased " << absl::StrJoin(labels, ", ") << " from " << Sanitize(erased->referral()) << " and "
                << erased->copies_rewritten() << " stored copies\n";
    }
    return kExitOk;
  }
  if (f.sar_rectified->parsed()) {
    refx::v1::RecordRectificationRequest request;
    request.set_subject_request(*name);
    request.set_correction(f.sar_correction);
    request.set_etag(f.etag);
    return Answer(client.RecordRectification(request), format);
  }
  refx::v1::RecordSubjectRequestStepRequest request;
  request.set_name(*name);
  request.mutable_step()->set_action(static_cast<SubjectRequestStep::Action>(
      ParseEnumLabel(SubjectRequestStep::Action_descriptor(), f.sar_action).value_or(0)));
  request.mutable_step()->set_date(f.sar_date);
  if (!f.sar_ground.empty()) {
    request.mutable_step()->set_ground(static_cast<SubjectRequestStep::Ground>(
        ParseEnumLabel(SubjectRequestStep::Ground_descriptor(), f.sar_ground).value_or(0)));
  }
  request.mutable_step()->set_note(f.note);
  request.set_etag(f.etag);
  return Answer(client.RecordSubjectRequestStep(request), format);
}

}  // namespace refx::cli

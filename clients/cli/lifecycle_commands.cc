// The `refx` commands that change a referral: the lifecycle verbs (accept,
// decline, redirect, start, complete, cancel, reopen) and case updates
// (update, and updates to list them).
#include "clients/cli/commands_internal.h"

#include <iostream>
#include <set>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace refx::cli {
namespace {

using refx::client::ReferralClient;
using refx::v1::Referral;

// Sends the lifecycle request `sub` names; `etag` is the etag to send.
absl::StatusOr<Referral> SendLifecycleRequest(ReferralClient& client, const std::string& sub,
                                              const CommandLine& f, const std::string& name,
                                              const std::string& etag, const std::string& request_id) {
  auto fill = [&](auto* r) {
    r->set_name(name);
    r->set_etag(etag);
    r->set_request_id(request_id);
  };
  if (sub == "accept") {
    refx::v1::AcceptReferralRequest r;
    fill(&r);
    return client.AcceptReferral(r);
  }
  if (sub == "decline") {
    refx::v1::DeclineReferralRequest r;
    fill(&r);
    r.set_reason(static_cast<refx::v1::DeclineReason>(
        ParseEnumLabel(refx::v1::DeclineReason_descriptor(), f.reason).value_or(0)));
    r.set_reason_text(f.reason_text);
    return client.DeclineReferral(r);
  }
  if (sub == "redirect") {
    refx::v1::RedirectReferralRequest r;
    fill(&r);
    r.set_target_agency(AgencyName(f.to));
    return client.RedirectReferral(r);
  }
  if (sub == "start") {
    refx::v1::StartReferralRequest r;
    fill(&r);
    return client.StartReferral(r);
  }
  if (sub == "complete") {
    refx::v1::CompleteReferralRequest r;
    fill(&r);
    r.set_outcome(static_cast<refx::v1::Outcome>(
        ParseEnumLabel(refx::v1::Outcome_descriptor(), f.outcome).value_or(0)));
    r.set_note(f.note);
    return client.CompleteReferral(r);
  }
  if (sub == "cancel") {
    refx::v1::CancelReferralRequest r;
    fill(&r);
    r.set_reason(f.reason);
    return client.CancelReferral(r);
  }
  refx::v1::ReopenReferralRequest r;
  fill(&r);
  r.set_reason(f.reason);
  return client.ReopenReferral(r);
}

}  // namespace

void AddLifecycle(CLI::App* app, CommandLine* f) {
  struct Spec {
    const char* name;
    const char* help;
    const char* examples;
  };
  const Spec specs[] = {
      {"accept", "Accept a referral addressed to your agency",
       "  refx accept 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10\n"
       "  refx accept referrals/5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --etag 3b9f0c1d2e4a5b6c7d8e\n"},
      {"decline", "Decline a referral addressed to your agency, with a coded reason",
       "  refx decline 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --reason out-of-area\n"
       "  refx decline 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --reason other --text \"victim moved away\"\n"},
      {"redirect", "Pass a referral addressed to your agency to another agency",
       "  refx redirect 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --to blaby-district-council\n"},
      {"start", "Start work on a referral your agency accepted",
       "  refx start 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10\n"},
      {"complete", "Complete a referral your agency accepted, with a coded outcome",
       "  refx complete 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --outcome supported\n"
       "  refx complete 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --outcome other --note \"referred to GP\"\n"},
      {"cancel", "Withdraw a referral your agency sent",
       "  refx cancel 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --reason \"sent to the wrong agency\"\n"},
      {"reopen", "Re-open a completed hate-crime referral (police)",
       "  refx reopen 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --reason \"new evidence\"\n"},
  };
  for (const Spec& spec : specs) {
    const std::string name = spec.name;
    CLI::App* c = app->add_subcommand(name, spec.help);
    f->lifecycle[name] = c;
    c->add_option("NAME_OR_ID", f->name, "referrals/ID or ID")->required();
    c->add_option("--etag", f->etag,
                  "The referral's etag as you last read it (refx get); if omitted, refx reads the referral "
                  "first and uses its current etag");
    c->add_option("--request-id", f->request_id, "Idempotency key; a retry with the same id is safe (default: new)");
    if (name == "decline") {
      AddEnumOption(c, "--reason", &f->reason, refx::v1::DeclineReason_descriptor(), "Why (coded)")->required();
      c->add_option("--text", f->reason_text, "Explanation; required with --reason other");
    } else if (name == "cancel") {
      c->add_option("--reason", f->reason, "Why the referral is withdrawn")->required();
    } else if (name == "reopen") {
      c->add_option("--reason", f->reason, "Why it is re-opened");
    } else if (name == "redirect") {
      c->add_option("--to", f->to, "The agency to pass it to (agency id)")->required();
    } else if (name == "complete") {
      AddEnumOption(c, "--outcome", &f->outcome, refx::v1::Outcome_descriptor(), "The outcome (coded)")->required();
      c->add_option("--note", f->note, "Optional note (no personal details)");
    }
    c->footer(absl::StrCat("Without --etag, refx reads the referral first and sends its current etag. Pass the\n"
                           "--etag you read (refx get) to be refused (ABORTED) if the referral changed since.\n\n"
                           "EXAMPLES\n",
                           spec.examples));
    c->fallthrough();
  }
}

void AddCaseUpdates(CLI::App* app, CommandLine* f) {
  CLI::App* u = app->add_subcommand("update", "Add a case update to a referral (append-only)");
  f->update = u;
  u->add_option("NAME_OR_ID", f->name, "referrals/ID or ID")->required();
  AddEnumOption(u, "--kind", &f->kind, refx::v1::CaseUpdate::Kind_descriptor(), "What the update records")
      ->required();
  u->add_option("--text", f->update_text,
                "The case note, at most 4 KiB; required except with --kind consent-change or "
                "police-outcome-reference");
  u->add_option("--supersedes", f->supersedes,
                "With --kind correction: the update it corrects (referrals/ID/updates/UID, or UID)");
  AddEnumOption(u, "--consent", &f->consent, refx::v1::Consent::Status_descriptor(),
                "With --kind consent-change: the victim's consent now");
  u->add_option("--lawful-basis", f->lawful_basis,
                "With --consent other than given: the agreement's lawful basis id (e.g. cda-1998-s115)");
  u->add_option("--police-reference", f->police_reference,
                "With --kind police-outcome-reference: the police outcome or crime reference");
  u->add_option("--etag", f->etag,
                "The referral's etag as you last read it (refx get); if omitted, refx reads the referral "
                "first and uses its current etag");
  u->add_option("--request-id", f->request_id, "Idempotency key; a retry with the same id is safe (default: new)");
  u->footer(
      "Updates are never changed or deleted: to put one right, add a correction that supersedes it.\n"
      "Without --etag, refx reads the referral first and sends its current etag; pass the --etag you\n"
      "read (refx get) to be refused (ABORTED) if the referral changed since.\n\n"
      "EXAMPLES\n"
      "  refx update 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --kind contact-attempt --text \"No answer; left no message\"\n"
      "  refx update referrals/5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --kind correction \\\n"
      "      --supersedes 9a1b2c3d4e5f60718293a4b5c6d7e8f9 --text \"Safety plan agreed Tuesday, not Monday\"\n"
      "  refx update 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --kind consent-change --consent withdrawn \\\n"
      "      --lawful-basis cda-1998-s115\n"
      "  refx update 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --kind police-outcome-reference \\\n"
      "      --police-reference LP-24-118823 --etag 3b9f0c1d2e4a5b6c7d8e\n");
  u->fallthrough();

  CLI::App* l = app->add_subcommand("updates", "List a referral's case updates, oldest first");
  f->updates = l;
  l->add_option("NAME_OR_ID", f->name, "referrals/ID or ID")->required();
  l->add_option("--page-size", f->page_size, "Updates per page (server default 50, max 500)")
      ->check(CLI::Range(0, 500));
  l->add_option("--page-token", f->page_token, "Continue from a previous page");
  l->add_flag("--all", f->all, "Follow every page");
  l->footer(
      "Each update shows only what the sharing agreement lets your agency read.\n\n"
      "EXAMPLES\n"
      "  refx updates 5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10\n"
      "  refx updates referrals/5f0c2a9e8d7b4c1a9e3f6b2d8c4a7e10 --all --output json\n");
  l->fallthrough();
}

absl::StatusOr<refx::v1::AddCaseUpdateRequest> BuildCaseUpdate(const CommandLine& f, const std::string& name) {
  refx::v1::AddCaseUpdateRequest r;
  r.set_parent(name);
  refx::v1::CaseUpdate* u = r.mutable_update();
  u->set_kind(static_cast<refx::v1::CaseUpdate::Kind>(
      ParseEnumLabel(refx::v1::CaseUpdate::Kind_descriptor(), f.kind).value_or(0)));
  u->set_text(f.update_text);
  if (!f.supersedes.empty()) {
    u->set_supersedes(absl::StrContains(f.supersedes, "/") ? f.supersedes
                                                            : absl::StrCat(name, "/updates/", f.supersedes));
  }
  if (!f.consent.empty() || !f.lawful_basis.empty()) {
    if (f.consent.empty()) return absl::InvalidArgumentError("--lawful-basis needs --consent");
    u->mutable_consent()->set_status(static_cast<refx::v1::Consent::Status>(
        ParseEnumLabel(refx::v1::Consent::Status_descriptor(), f.consent).value_or(0)));
    u->mutable_consent()->set_lawful_basis(f.lawful_basis);
  }
  u->set_police_reference(f.police_reference);
  return r;
}

int RunLifecycleCommand(ReferralClient& client, const std::string& sub, const CommandLine& f,
                        const std::string& name, std::string request_id, OutputFormat format) {
  std::string etag = f.etag;
  if (etag.empty()) {
    auto current = client.GetReferral(name, {"etag"});
    if (!current.ok()) return Fail(current.status(), format, false);
    etag = current->etag();
  }
  if (request_id.empty()) {
    auto id = NewRequestId();
    if (!id.ok()) return Fail(id.status(), format, /*local=*/false);
    request_id = *id;
  }
  auto changed = SendLifecycleRequest(client, sub, f, name, etag, request_id);
  if (!changed.ok()) return Fail(changed.status(), format, false, request_id);
  std::cout << (format == OutputFormat::kJson ? RenderJson(*changed) : RenderKeyValues(*changed));
  return kExitOk;
}

int RunUpdate(ReferralClient& client, const CommandLine& f, const std::string& name, std::string request_id,
              refx::v1::AddCaseUpdateRequest update_request, OutputFormat format) {
  std::string etag = f.etag;
  if (etag.empty()) {
    auto current = client.GetReferral(name, {"etag"});
    if (!current.ok()) return Fail(current.status(), format, false);
    etag = current->etag();
  }
  if (request_id.empty()) {
    auto id = NewRequestId();
    if (!id.ok()) return Fail(id.status(), format, /*local=*/false);
    request_id = *id;
  }
  update_request.set_etag(etag);
  update_request.set_request_id(request_id);
  auto added = client.AddCaseUpdate(update_request);
  if (!added.ok()) return Fail(added.status(), format, false, request_id);
  std::cout << (format == OutputFormat::kJson ? RenderJson(*added) : RenderKeyValues(*added));
  return kExitOk;
}

int RunUpdates(ReferralClient& client, const CommandLine& f, const std::string& name, OutputFormat format) {
  refx::v1::ListCaseUpdatesRequest request;
  request.set_parent(name);
  request.set_page_size(f.page_size);
  request.set_page_token(f.page_token);
  refx::v1::ListCaseUpdatesResponse all;
  std::set<std::string> seen_tokens;
  while (true) {
    auto page = client.ListCaseUpdates(request);
    if (!page.ok()) return Fail(page.status(), format, false);
    for (auto& u : *page->mutable_updates()) *all.add_updates() = std::move(u);
    all.set_next_page_token(page->next_page_token());
    if (!f.all || page->next_page_token().empty()) break;
    if (!seen_tokens.insert(page->next_page_token()).second) {
      return Fail(absl::InternalError("the server repeated a page token"), format, false);
    }
    request.set_page_token(page->next_page_token());
  }
  if (f.all) all.clear_next_page_token();
  std::cout << (format == OutputFormat::kJson ? RenderJson(all) : RenderCaseUpdateTable(all));
  if (!all.next_page_token().empty()) {
    std::cerr << "refx: more updates: add --page-token " << all.next_page_token() << " (or --all)\n";
  }
  return kExitOk;
}

}  // namespace refx::cli

// ReferralManager's lists: ListReferrals (filters matched on what the
// caller's view reads, sealed page tokens, rendered referrals kept per view)
// and a page's bytes. The rest of the manager is in referral_manager.cc.
#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/hash.h"
#include "common/status_details.h"
#include "common/status_macros.h"
#include "core/agreement.h"
#include "core/field_behavior.h"
#include "core/referral_manager.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace refx::core {
namespace {

// The canonical text of a listing's filters: a page token is valid only with
// the filters it was issued for.
std::string FilterKey(const ListReferralsParams& p) {
  std::string key;
  for (auto s : p.states) absl::StrAppend(&key, "s", static_cast<int>(s), ",");
  for (const auto& a : p.areas) absl::StrAppend(&key, "a", a, ",");
  for (const auto& s : p.strands) absl::StrAppend(&key, "t", s, ",");
  for (auto t : p.report_types) absl::StrAppend(&key, "r", static_cast<int>(t), ",");
  if (p.created_from) absl::StrAppend(&key, "f", absl::ToUnixMicros(*p.created_from), ",");
  if (p.created_to) absl::StrAppend(&key, "u", absl::ToUnixMicros(*p.created_to), ",");
  if (p.overdue) absl::StrAppend(&key, "o,");
  if (p.awaiting_my_response) absl::StrAppend(&key, "m,");
  return HexEncode(Sha256(key)).substr(0, 16);
}

// A page token is the listing position after the last referral returned
// (one the caller saw), sealed and bound to the caller's agency and filters.
std::string PageTokenBinding(const Caller& caller, const std::string& filter_key) {
  return absl::StrCat("refx-list-referrals-v2|", caller.agency_id, "|", filter_key);
}

std::string EncodePageToken(const TokenSealer& sealer, const Caller& caller, const storage::ListCursor& cursor,
                            const std::string& filter_key) {
  return sealer.Seal(PageTokenBinding(caller, filter_key),
                     absl::StrCat(absl::ToUnixMicros(cursor.create_time), "|", cursor.id));
}

absl::StatusOr<storage::ListCursor> DecodePageToken(const TokenSealer& sealer, const Caller& caller,
                                                    const std::string& token, const std::string& filter_key) {
  const absl::Status bad = InvalidArgumentError(
      "invalid page_token", {{"page_token", "not a token from a previous call of this agency with the same filters"}});
  auto payload = sealer.Open(PageTokenBinding(caller, filter_key), token);
  if (!payload.ok()) return bad;
  std::vector<std::string> parts = absl::StrSplit(*payload, '|');
  int64_t micros = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &micros)) return bad;
  return storage::ListCursor{absl::FromUnixMicros(micros), parts[1]};
}

}  // namespace

std::string ReferralPage::Serialize() const {
  // As protobuf encodes the message: each referral a length-delimited field
  // 1, then the token as field 2 when set.
  size_t size = next_page_token.size() + 16;
  for (const auto& r : referrals) size += r->bytes.size() + 16;
  std::string out;
  out.reserve(size);
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    constexpr uint32_t kLengthDelimited = 2;
    for (const auto& r : referrals) {
      coded.WriteTag((v1::ListReferralsResponse::kReferralsFieldNumber << 3) | kLengthDelimited);
      coded.WriteVarint32(static_cast<uint32_t>(r->bytes.size()));
      coded.WriteString(r->bytes);
    }
    if (!next_page_token.empty()) {
      coded.WriteTag((v1::ListReferralsResponse::kNextPageTokenFieldNumber << 3) | kLengthDelimited);
      coded.WriteVarint32(static_cast<uint32_t>(next_page_token.size()));
      coded.WriteString(next_page_token);
    }
  }
  return out;
}

absl::StatusOr<ReferralPage> ReferralManager::ListReferrals(const Caller& caller, const ListReferralsParams& params,
                                                            CallAudit* audit) {
  std::vector<FieldViolation> violations;
  if (params.page_size < 0) violations.push_back({"page_size", "must not be negative"});
  for (size_t i = 0; i < params.states.size(); ++i) {
    if (!v1::Referral::State_IsValid(params.states[i]) || params.states[i] == v1::Referral::STATE_UNSPECIFIED) {
      violations.push_back({absl::StrCat("filter.states[", i, "]"), "unknown state"});
    }
  }
  for (size_t i = 0; i < params.report_types.size(); ++i) {
    if (!v1::ReportType_IsValid(params.report_types[i]) || params.report_types[i] == v1::REPORT_TYPE_UNSPECIFIED) {
      violations.push_back({absl::StrCat("filter.report_types[", i, "]"), "unknown report type"});
    }
  }
  for (size_t i = 0; i < params.areas.size(); ++i) {
    if (options_.registry->Current()->FindArea(params.areas[i]) == nullptr) {
      violations.push_back({absl::StrCat("filter.areas[", i, "]"), "unknown area"});
    }
  }
  for (size_t i = 0; i < params.strands.size(); ++i) {
    if (options_.registry->Current()->FindStrand(params.strands[i]) == nullptr) {
      violations.push_back({absl::StrCat("filter.strands[", i, "]"), "unknown strand"});
    }
  }
  if (params.created_from && params.created_to && *params.created_from >= *params.created_to) {
    violations.push_back({"filter.create_time_to", "must be after create_time_from"});
  }
  if (!violations.empty()) return InvalidArgumentError("invalid list request", violations);
  if (caller.agreement == nullptr) return absl::InternalError("call was not admitted under an agreement");
  REFX_RETURN_IF_ERROR(CheckReadMask(caller, params.read_mask, "read_mask"));

  // Which classes a referral's view must include for it to match: those of
  // every field the filter tests, read from the schema (filters_field).
  REFX_ASSIGN_OR_RETURN(const DataClassSet tested, FilteredClasses(params.filter, v1::Referral::descriptor()));

  const std::string filter_key = FilterKey(params);
  storage::ListReferralsQuery query;
  query.party_agency = caller.agency_id;
  for (auto s : params.states) query.states.push_back(s);
  query.areas = params.areas;
  query.strands = params.strands;
  for (auto t : params.report_types) query.report_types.push_back(t);
  query.created_from = params.created_from;
  query.created_to = params.created_to;
  // Overdue and awaiting-my-response both mean "awaiting a response":
  // narrow the states to REQUESTED and REDIRECTED (within any asked for).
  bool nothing_matches = false;
  if (params.overdue || params.awaiting_my_response) {
    std::vector<int32_t> awaiting;
    for (auto s : {v1::Referral::REQUESTED, v1::Referral::REDIRECTED}) {
      if (params.states.empty() || std::find(params.states.begin(), params.states.end(), s) != params.states.end()) {
        awaiting.push_back(s);
      }
    }
    nothing_matches = awaiting.empty();
    query.states = awaiting;
    if (params.overdue) query.deadline_before = options_.clock->Now();
    query.party_must_respond = params.awaiting_my_response;
  }
  if (!params.page_token.empty()) {
    REFX_ASSIGN_OR_RETURN(query.after, DecodePageToken(page_tokens_, caller, params.page_token, filter_key));
  }
  const int page_size = params.page_size == 0 ? kDefaultPageSize : std::min(params.page_size, kMaxPageSize);

  // The store matches the filters on what it holds, which may be more than
  // the caller may read (a strand withheld without consent). So the store's
  // rows are candidates, and a referral is listed only if the caller may
  // see it and its view of it includes every tested field: then the stored
  // value the store matched is the value the caller sees. Rows are read
  // until page_size + 1 referrals pass (the extra one says a next page
  // exists), so the page, its token and "more" depend only on referrals the
  // caller sees.
  struct Listed {
    storage::StoredReferral stored;
    std::shared_ptr<const RenderedReferral> rendered;
  };
  // Which rows the store reads must not depend on withheld data either (a
  // query that reads one row more when a withheld strand matches is a
  // timing oracle): a filter on a class beyond the routing facts every
  // party reads is not given to the store, and is matched here on the
  // caller's view instead.
  v1::ReferralFilter strands_only;
  *strands_only.mutable_strands() = params.filter.strands();
  REFX_ASSIGN_OR_RETURN(const DataClassSet strand_classes,
                        FilteredClasses(strands_only, v1::Referral::descriptor()));
  const bool strands_in_store = DataClassSet({v1::DATA_CLASS_REFERRAL_CORE}).ContainsAll(strand_classes);
  if (!strands_in_store) query.strands.clear();
  auto has_a_filtered_strand = [&](const RenderedReferral& r) {
    for (const std::string& strand : r.strands) {
      if (std::find(params.strands.begin(), params.strands.end(), strand) != params.strands.end()) return true;
    }
    return false;
  };
  std::vector<Listed> listed;
  const std::string view = ListView(caller, params.read_mask);
  int chunk = page_size + 1;
  while (!nothing_matches && static_cast<int>(listed.size()) <= page_size) {
    query.limit = chunk;
    REFX_ASSIGN_OR_RETURN(std::vector<storage::StoredReferral> rows, options_.store->ListReferrals(query));
    // Taken before rows are moved into the page.
    const absl::optional<storage::ListCursor> next =
        rows.empty() ? absl::nullopt : absl::make_optional(storage::ListCursor{rows.back().create_time, rows.back().id});
    for (storage::StoredReferral& row : rows) {
      REFX_ASSIGN_OR_RETURN(std::shared_ptr<const RenderedReferral> r,
                            RenderListed(caller, params.read_mask, view, &row));
      if (!r->visible) continue;  // not for this role: as if it did not exist
      if (!r->readable.ContainsAll(tested)) continue;
      // Readable, so the stored strands are the ones the caller sees.
      if (!strands_in_store && !params.strands.empty() && !has_a_filtered_strand(*r)) continue;
      listed.push_back({std::move(row), std::move(r)});
      if (static_cast<int>(listed.size()) > page_size) break;
    }
    if (static_cast<int>(rows.size()) < chunk || !next.has_value()) break;  // the store has no more
    query.after = *next;
    chunk = std::min(chunk * 2, 1024);  // rows the caller cannot see: read on in larger steps
  }

  ReferralPage page;
  const bool more = static_cast<int>(listed.size()) > page_size;
  if (more) listed.resize(page_size);
  std::vector<std::string> ids;
  std::vector<const Disclosure*> disclosed;
  bool others = false;
  for (Listed& l : listed) {
    ids.push_back(l.stored.id);
    others = others || l.stored.sender_agency != caller.agency_id;
    disclosed.push_back(&l.rendered->disclosed);
    page.referrals.push_back(std::move(l.rendered));
  }
  v1::ListReferralsResponse without_referrals;
  if (more) {
    page.next_page_token =
        EncodePageToken(page_tokens_, caller, {listed.back().stored.create_time, listed.back().stored.id}, filter_key);
    without_referrals.set_next_page_token(page.next_page_token);
  }
  // What the page's bytes disclose: the page without its referrals, and
  // each referral's disclosure, found when it was rendered.
  audit->WriteBeforeAnswer(options_.auditor->Build(
      caller, audit->method, others ? AuditAction::kDisclosure : AuditAction::kConsultation, ids,
      DisclosureWithElements(
          without_referrals,
          v1::ListReferralsResponse::descriptor()->FindFieldByNumber(v1::ListReferralsResponse::kReferralsFieldNumber),
          disclosed),
      absl::StatusCode::kOk));
  return page;
}

absl::StatusOr<std::shared_ptr<const RenderedReferral>> ReferralManager::RenderListed(
    const Caller& caller, const std::vector<std::string>& mask, const std::string& view, storage::StoredReferral* row) {
  const std::string key = ListRenderKey(view, row->id);
  if (auto cached = list_renders_.Find(key, row->document)) return cached;
  auto rendered = std::make_shared<RenderedReferral>();
  auto parsed = Parse(caller, *row);
  if (absl::IsNotFound(parsed.status())) {
    rendered->visible = false;
  } else if (!parsed.ok()) {
    return parsed.status();
  } else {
    rendered->visible = true;
    rendered->readable = caller.agreement->ReadableClasses(caller, *parsed);
    for (const v1::Strand& strand : parsed->strands()) rendered->strands.push_back(strand.strand());
    Trim(caller, mask, &*parsed);
    rendered->bytes = parsed->SerializeAsString();
    rendered->disclosed = DisclosureOf(*parsed);
  }
  // The row's document is not read again: the entry keeps it.
  list_renders_.Insert(key, std::move(row->document), rendered);
  return rendered;
}

}  // namespace refx::core

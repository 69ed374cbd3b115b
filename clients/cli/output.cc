#include "clients/cli/output.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/json_text.h"
#include "common/status_details.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"

namespace refx::cli {
namespace {

using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// "PERCEIVED_BY_UNSPECIFIED" -> "PERCEIVED_BY_": the prefix the values of an
// AIP-style enum share, so labels can drop it.
std::string EnumPrefix(const EnumDescriptor* type) {
  const google::protobuf::EnumValueDescriptor* zero = type->FindValueByNumber(0);
  if (zero == nullptr) return "";
  const std::string& name = zero->name();
  constexpr absl::string_view kUnspecified = "UNSPECIFIED";
  if (!absl::EndsWith(name, kUnspecified)) return "";
  return name.substr(0, name.size() - kUnspecified.size());
}

std::string StripAgency(const std::string& name) {
  return absl::StartsWith(name, "agencies/") ? name.substr(9) : name;
}

using KeyValues = std::vector<std::pair<std::string, std::string>>;

void Flatten(const Message& message, const std::string& prefix, KeyValues* out);

bool IsTimestamp(const FieldDescriptor* f) {
  return f->message_type() != nullptr &&
         f->message_type()->full_name() == "google.protobuf.Timestamp";
}

// One value of field `f` (element `index` when repeated) under `key`.
void AddValue(const Message& m, const FieldDescriptor* f, int index, const std::string& key,
              KeyValues* out) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  std::string value;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      if (IsTimestamp(f)) {
        google::protobuf::Timestamp t;
        t.CopyFrom(sub);
        value = FormatTimestamp(t);
        break;
      }
      Flatten(sub, key, out);
      return;
    }
    case FieldDescriptor::CPPTYPE_ENUM:
      value = EnumLabel(f->enum_type(),
                        rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f));
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      value = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      value = (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
      break;
    case FieldDescriptor::CPPTYPE_INT32:
      value = absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      value = absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      value = absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      value = absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      value = absl::StrCat(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      value = absl::StrCat(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      break;
  }
  out->emplace_back(key, std::move(value));
}

void Flatten(const Message& message, const std::string& prefix, KeyValues* out) {
  const Reflection* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);  // Set fields only, by field number.
  for (const FieldDescriptor* f : fields) {
    const std::string key = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(message, f); ++i) {
        AddValue(message, f, i, absl::StrCat(key, "[", i, "]"), out);
      }
    } else {
      AddValue(message, f, -1, key, out);
    }
  }
}

void AppendPadded(std::string* out, const std::string& cell, size_t width) {
  out->append(cell);
  out->append(width - std::min(width, cell.size()), ' ');
}

}  // namespace

std::vector<std::pair<std::string, std::string>> FlattenFields(const Message& message) {
  KeyValues out;
  Flatten(message, "", &out);
  return out;
}

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitAuth;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalid;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return kExitConflict;
    default:
      return kExitError;
  }
}

std::string ExitCodesHelp() {
  return "EXIT CODES\n"
         "  0  success\n"
         "  1  other error (INTERNAL, UNKNOWN, ...)\n"
         "  2  usage error: bad flags, profile file or certificate files\n"
         "  3  NOT_FOUND (absent, or not visible to your agency)\n"
         "  4  UNAUTHENTICATED or PERMISSION_DENIED\n"
         "  5  INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE\n"
         "  6  UNAVAILABLE or DEADLINE_EXCEEDED (connection or TLS handshake)\n"
         "  7  ALREADY_EXISTS or ABORTED (conflict; re-read and retry)\n";
}

std::string EnumLabel(const EnumDescriptor* type, int value) {
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  std::string name = v->name();
  const std::string prefix = EnumPrefix(type);
  if (!prefix.empty() && absl::StartsWith(name, prefix) && name.size() > prefix.size()) {
    name = name.substr(prefix.size());
  }
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}});
}

std::optional<int> ParseEnumLabel(const EnumDescriptor* type, const std::string& label) {
  const std::string upper =
      absl::StrReplaceAll(absl::AsciiStrToUpper(label), {{"-", "_"}});
  for (const std::string& name : {EnumPrefix(type) + upper, upper}) {
    const google::protobuf::EnumValueDescriptor* v = type->FindValueByName(name);
    if (v != nullptr && v->number() != 0) return v->number();
  }
  return std::nullopt;
}

std::string EnumLabels(const EnumDescriptor* type) {
  std::vector<std::string> labels;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    labels.push_back(EnumLabel(type, type->value(i)->number()));
  }
  return absl::StrJoin(labels, "|");
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string Sanitize(const std::string& text, bool keep_newlines) {
  // Walks the text as UTF-8. What a terminal could act on, or that could
  // make the text read differently from what the bytes say, is shown as an
  // escape instead: C0 controls and DEL (ESC starts every ANSI sequence) as
  // \xNN, C1 controls (U+0080..U+009F: a lone CSI also starts a sequence)
  // and bidirectional overrides and isolates (U+202A..U+202E,
  // U+2066..U+2069: "Trojan Source" reordering) as \u{NNNN}, and bytes that
  // are not valid UTF-8 as \xNN. A backslash is doubled, so an escape in
  // the output can only have come from this function.
  std::string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char b = bytes[i];
    if (b < 0x80) {
      if (b == '\\') {
        out += "\\\\";
      } else if ((b < 0x20 && !(keep_newlines && b == '\n')) || b == 0x7f) {
        absl::StrAppend(&out, "\\x", absl::Hex(b, absl::kZeroPad2));
      } else {
        out += static_cast<char>(b);
      }
      ++i;
      continue;
    }
    // The length and the smallest code point of a well-formed sequence
    // starting with `b` (overlong forms and surrogates are malformed).
    size_t length = 0;
    uint32_t code = 0;
    if (b >= 0xc2 && b <= 0xdf) {
      length = 2;
      code = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      code = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      code = b & 0x07;
    }
    bool valid = length > 0 && i + length <= n;
    for (size_t k = 1; valid && k < length; ++k) {
      if ((bytes[i + k] & 0xc0) != 0x80) valid = false;
      code = (code << 6) | (bytes[i + k] & 0x3f);
    }
    if (valid) {
      valid = !(length == 3 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) &&
              !(length == 4 && (code < 0x10000 || code > 0x10ffff));
    }
    if (!valid) {
      absl::StrAppend(&out, "\\x", absl::Hex(b, absl::kZeroPad2));
      ++i;
      continue;
    }
    const bool c1 = code >= 0x80 && code <= 0x9f;
    const bool bidi = (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069);
    if (c1 || bidi) {
      absl::StrAppend(&out, "\\u{", absl::Hex(code, absl::kZeroPad4), "}");
    } else {
      out.append(text, i, length);
    }
    i += length;
  }
  return out;
}

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> all;
  all.push_back(header);
  for (const auto& row : rows) {
    std::vector<std::string> clean;
    for (const std::string& cell : row) clean.push_back(Sanitize(cell));
    clean.resize(header.size());
    all.push_back(std::move(clean));
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& row : all) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : all) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i + 1 == row.size()) {
        line += row[i];
      } else {
        AppendPadded(&line, row[i], widths[i] + 2);
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string RenderReferralTable(const std::vector<refx::v1::Referral>& referrals, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  for (const refx::v1::Referral& r : referrals) {
    std::string due = FormatTimestamp(r.response_deadline());
    const bool awaiting = r.state() == refx::v1::Referral::REQUESTED || r.state() == refx::v1::Referral::REDIRECTED;
    if (awaiting && !due.empty() && absl::FromUnixSeconds(r.response_deadline().seconds()) < now) {
      due += " OVERDUE";
    }
    std::vector<std::string> to;
    for (const std::string& a : r.recipient_agencies()) to.push_back(StripAgency(a));
    rows.push_back({r.name(),
                    r.state() == 0 ? "" : EnumLabel(refx::v1::Referral::State_descriptor(),
                                                    r.state()),
                    r.report_type() == 0
                        ? ""
                        : EnumLabel(refx::v1::ReportType_descriptor(), r.report_type()),
                    r.area(), StripAgency(r.sender_agency()), absl::StrJoin(to, ","),
                    FormatTimestamp(r.create_time()), due});
  }
  return RenderTable({"NAME", "STATE", "TYPE", "AREA", "FROM", "TO", "CREATED", "DUE"}, rows);
}

std::string RenderCaseUpdateTable(const refx::v1::ListCaseUpdatesResponse& updates) {
  if (updates.updates_size() == 0) return "no case updates\n";
  auto last_segment = [](const std::string& name) { return name.substr(name.rfind('/') + 1); };
  std::vector<std::vector<std::string>> rows;
  for (const refx::v1::CaseUpdate& u : updates.updates()) {
    std::string summary = u.text().substr(0, u.text().find('\n'));
    if (summary.empty() && u.has_consent()) {
      summary = absl::StrCat("consent: ", EnumLabel(refx::v1::Consent::Status_descriptor(), u.consent().status()));
    }
    if (summary.empty()) summary = u.police_reference();
    if (summary.size() > 60) {
      // Cut on a character boundary: never through a UTF-8 sequence.
      size_t cut = 57;
      while (cut > 0 && (static_cast<unsigned char>(summary[cut]) & 0xc0) == 0x80) --cut;
      summary = summary.substr(0, cut) + "...";
    }
    rows.push_back({last_segment(u.name()), FormatTimestamp(u.create_time()),
                    u.kind() == 0 ? "" : EnumLabel(refx::v1::CaseUpdate::Kind_descriptor(), u.kind()),
                    StripAgency(u.author_agency()), u.supersedes().empty() ? "" : last_segment(u.supersedes()),
                    summary});
  }
  return RenderTable({"UPDATE", "CREATED", "KIND", "AUTHOR", "SUPERSEDES", "TEXT"}, rows);
}

std::string RenderAuditTable(const refx::v1::ListAuditEventsResponse& events) {
  if (events.events_size() == 0) return "no audit events\n";
  std::vector<std::vector<std::string>> rows;
  for (const refx::v1::AuditEvent& e : events.events()) {
    std::vector<std::string> referrals, classes;
    for (const std::string& r : e.referrals()) referrals.push_back(r.substr(r.rfind('/') + 1, 8));
    for (int c : e.data_classes()) {
      std::string name = refx::v1::DataClass_Name(static_cast<refx::v1::DataClass>(c));
      classes.push_back(absl::AsciiStrToLower(absl::StripPrefix(name, "DATA_CLASS_")));
    }
    // Values derived from other referrals, the reason of a refusal or a
    // replay, and how many calls an aggregated refusal stands for.
    std::vector<std::string> note;
    for (const std::string& d : e.derived()) note.push_back(absl::StrCat("derived:", d));
    if (!e.reason().empty()) note.push_back(e.reason());
    if (e.count() > 1) note.push_back(absl::StrCat("x", e.count()));
    rows.push_back({absl::StrCat(e.sequence()), FormatTimestamp(e.time()), e.action(),
                    e.method().substr(e.method().rfind('.') + 1), StripAgency(e.agency()),
                    referrals.size() > 3 ? absl::StrCat(referrals.size(), " referrals") : absl::StrJoin(referrals, ","),
                    absl::StrJoin(classes, ","), e.outcome(), absl::StrJoin(note, " ")});
  }
  return RenderTable({"SEQ", "TIME", "ACTION", "METHOD", "AGENCY", "REFERRALS", "CLASSES", "OUTCOME", "NOTE"}, rows);
}

std::string RenderKeyValues(const google::protobuf::Message& message) {
  const KeyValues kv = FlattenFields(message);
  size_t width = 0;
  for (const auto& [key, unused] : kv) width = std::max(width, key.size() + 1);
  width = std::min<size_t>(width, 40);
  std::string out;
  for (const auto& [key, value] : kv) {
    std::string line;
    AppendPadded(&line, key + ":", width + 1);
    const std::string indent(width + 1, ' ');
    std::vector<std::string> parts = absl::StrSplit(Sanitize(value, true), '\n');
    line += parts[0];
    for (size_t i = 1; i < parts.size(); ++i) line += "\n" + indent + parts[i];
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string RenderJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) {
    return "{}\n";  // Only for messages with unprintable Any types; we have none.
  }
  if (out.empty() || out.back() != '\n') out += "\n";
  return out;
}

std::string RenderJsonLine(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}\n";
  return out + "\n";
}

std::string RenderWatchEvent(const refx::v1::WatchReferralsResponse& event) {
  const refx::v1::Referral& r = event.referral();
  std::string recipients;
  for (const auto& a : r.recipient_agencies()) {
    absl::StrAppend(&recipients, recipients.empty() ? "" : ",", absl::StripPrefix(a, "agencies/"));
  }
  if (event.kind() == refx::v1::WatchReferralsResponse::REFERRAL_DELETED) {
    // Nothing of it is left to show but its name: delete your copy.
    return absl::StrCat(event.sequence(), "  ", FormatTimestamp(event.event_time()), "  ",
                        EnumLabel(refx::v1::WatchReferralsResponse::Kind_descriptor(), event.kind()), "  ",
                        Sanitize(r.name()), "  (retention period of the routing record ended)\n");
  }
  return absl::StrCat(event.sequence(), "  ", FormatTimestamp(event.event_time()), "  ",
                      EnumLabel(refx::v1::WatchReferralsResponse::Kind_descriptor(), event.kind()), "  ",
                      Sanitize(r.name()), "  ",
                      r.state() == refx::v1::Referral::STATE_UNSPECIFIED
                          ? std::string("-")
                          : EnumLabel(refx::v1::Referral::State_descriptor(), r.state()),
                      "  ", Sanitize(std::string(absl::StripPrefix(r.sender_agency(), "agencies/"))), " -> ",
                      Sanitize(recipients), "\n");
}

std::string FormatError(const absl::Status& status, OutputFormat format,
                        const std::string& request_id) {
  const std::string code = absl::StatusCodeToString(status.code());
  const std::vector<FieldViolation> violations = FieldViolationsOf(status);
  const std::string reason = ErrorReasonOf(status);
  // The server's name for the call: what an operator needs to find it.
  const std::string call_id = CallIdOf(status);
  if (format == OutputFormat::kJson) {
    std::string out = absl::StrCat("{\"code\":", JsonQuote(code),
                                   ",\"message\":", JsonQuote(std::string(status.message())));
    if (!violations.empty()) {
      std::vector<std::string> items;
      for (const FieldViolation& v : violations) {
        items.push_back(absl::StrCat("{\"field\":", JsonQuote(v.field),
                                     ",\"description\":", JsonQuote(v.description), "}"));
      }
      absl::StrAppend(&out, ",\"fieldViolations\":[", absl::StrJoin(items, ","), "]");
    }
    if (!reason.empty()) absl::StrAppend(&out, ",\"reason\":", JsonQuote(reason));
    if (!request_id.empty()) absl::StrAppend(&out, ",\"requestId\":", JsonQuote(request_id));
    if (!call_id.empty()) absl::StrAppend(&out, ",\"callId\":", JsonQuote(call_id));
    return out + "}\n";
  }
  std::string out =
      absl::StrCat("refx: ", code, ": ", Sanitize(std::string(status.message())), "\n");
  for (const FieldViolation& v : violations) {
    absl::StrAppend(&out, "  field ", Sanitize(v.field), ": ", Sanitize(v.description), "\n");
  }
  if (!reason.empty()) absl::StrAppend(&out, "  reason: ", Sanitize(reason), "\n");
  if (!call_id.empty()) absl::StrAppend(&out, "  call id: ", Sanitize(call_id), " (quote it when reporting this)\n");
  if (!request_id.empty()) {
    // Only when the outcome is unknown is a retry with the same id the way
    // to avoid a duplicate; a refusal (invalid, denied, stale) needs a change.
    const absl::StatusCode c = status.code();
    const bool outcome_unknown = c == absl::StatusCode::kUnavailable || c == absl::StatusCode::kDeadlineExceeded ||
                                 c == absl::StatusCode::kInternal || c == absl::StatusCode::kUnknown ||
                                 c == absl::StatusCode::kCancelled;
    absl::StrAppend(&out, "  request id: ", request_id,
                    outcome_unknown ? absl::StrCat(" (the outcome is unknown: retry with --request-id ", request_id,
                                                   " to avoid creating a duplicate)")
                                    : std::string(),
                    "\n");
  }
  return out;
}

}  // namespace refx::cli

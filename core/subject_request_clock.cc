#include "core/subject_request_clock.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_details.h"

namespace refx::core {
namespace {

using Step = v1::SubjectRequestStep;

constexpr int kMonths = 1;
constexpr int kExtendedMonths = 3;
constexpr size_t kMaxNoteLength = 200;

bool IsClosed(v1::SubjectRequest::State state) {
  return state == v1::SubjectRequest::ANSWERED || state == v1::SubjectRequest::REFUSED ||
         state == v1::SubjectRequest::WITHDRAWN;
}

absl::CivilDay LastDayOf(absl::CivilMonth month) { return absl::CivilDay(month + 1) - 1; }

// The grounds each action takes: none for the others.
bool GroundFits(Step::Action action, Step::Ground ground) {
  switch (action) {
    case Step::PAUSED:
      return ground == Step::IDENTITY || ground == Step::CLARIFICATION || ground == Step::FEE;
    case Step::EXTENDED:
      return ground == Step::COMPLEXITY || ground == Step::NUMBER_OF_REQUESTS;
    case Step::REFUSED:
      return ground == Step::MANIFESTLY_UNFOUNDED || ground == Step::MANIFESTLY_EXCESSIVE ||
             ground == Step::EXEMPTION;
    default:
      return ground == Step::GROUND_UNSPECIFIED;
  }
}

// What GroundFits admits for `action`, in words.
const char* GroundsOf(Step::Action action) {
  switch (action) {
    case Step::PAUSED:
      return "PAUSED takes IDENTITY, CLARIFICATION or FEE";
    case Step::EXTENDED:
      return "EXTENDED takes COMPLEXITY or NUMBER_OF_REQUESTS";
    case Step::REFUSED:
      return "REFUSED takes MANIFESTLY_UNFOUNDED, MANIFESTLY_EXCESSIVE or EXEMPTION";
    default:
      return "this action takes no ground";
  }
}

absl::Status NotAllowed(absl::string_view why) {
  return WithErrorInfo(FailedPreconditionError(absl::StrCat("step not allowed: ", why),
                                               {{"STATE", "step.action", std::string(why)}}),
                       "SUBJECT_REQUEST_STEP_NOT_ALLOWED");
}

// Applies an admitted `step` on `day` to `clock`.
void Apply(const Step& step, absl::CivilDay day, const WorkingCalendar& calendar, SubjectRequestClock* clock) {
  clock->last_step = day;
  switch (step.action()) {
    case Step::PAUSED:
      clock->state = v1::SubjectRequest::PAUSED;
      return;
    case Step::RESUMED:
      clock->state = v1::SubjectRequest::OPEN;
      clock->start = day;
      clock->first_month_end = SubjectRequestDueDate(day, kMonths, calendar);
      clock->due = SubjectRequestDueDate(day, clock->extended ? kExtendedMonths : kMonths, calendar);
      return;
    case Step::EXTENDED:
      clock->extended = true;
      clock->due = SubjectRequestDueDate(clock->start, kExtendedMonths, calendar);
      return;
    case Step::ANSWERED:
      clock->state = v1::SubjectRequest::ANSWERED;
      clock->closed = day;
      return;
    case Step::REFUSED:
      clock->state = v1::SubjectRequest::REFUSED;
      clock->closed = day;
      return;
    case Step::WITHDRAWN:
      clock->state = v1::SubjectRequest::WITHDRAWN;
      clock->closed = day;
      return;
    default:
      return;
  }
}

}  // namespace

absl::CivilDay SubjectRequestDueDate(absl::CivilDay start, int months, const WorkingCalendar& calendar) {
  const absl::CivilMonth month = absl::CivilMonth(start) + months;
  // CivilDay normalises 31 April to 1 May: the min keeps it in the month.
  absl::CivilDay due = std::min(absl::CivilDay(month.year(), month.month(), start.day()), LastDayOf(month));
  while (!calendar.IsWorkingDay(due)) ++due;
  return due;
}

absl::optional<absl::CivilDay> ParseDay(absl::string_view text) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(text, &day) || FormatDay(day) != text) return absl::nullopt;
  return day;
}

std::string FormatDay(absl::CivilDay day) { return absl::FormatCivilTime(day); }

absl::StatusOr<SubjectRequestClock> RunSubjectRequestClock(const google::protobuf::RepeatedPtrField<Step>& steps,
                                                           const WorkingCalendar& calendar) {
  if (steps.empty() || steps[0].action() != Step::RECEIVED) {
    return absl::InternalError("a stored subject request does not begin with its receipt");
  }
  absl::optional<absl::CivilDay> received = ParseDay(steps[0].date());
  if (!received) return absl::InternalError("a stored subject request has an unreadable date");
  SubjectRequestClock clock;
  clock.received = clock.start = clock.last_step = *received;
  clock.due = clock.first_month_end = SubjectRequestDueDate(*received, kMonths, calendar);
  for (int i = 1; i < steps.size(); ++i) {
    absl::optional<absl::CivilDay> day = ParseDay(steps[i].date());
    if (!day) return absl::InternalError("a stored subject request has an unreadable date");
    Apply(steps[i], *day, calendar, &clock);
  }
  return clock;
}

absl::Status CheckNextStep(const SubjectRequestClock& clock, const Step& step, absl::CivilDay today) {
  std::vector<FieldViolation> violations;
  absl::optional<absl::CivilDay> day = ParseDay(step.date());
  if (!day) {
    violations.push_back({"step.date", "required: YYYY-MM-DD"});
  } else if (*day > today) {
    violations.push_back({"step.date", "must not be in the future"});
  } else if (*day < clock.last_step) {
    violations.push_back(
        {"step.date", absl::StrCat("must not be before the previous step (", FormatDay(clock.last_step), ")")});
  }
  if (step.action() == Step::RECEIVED) {
    violations.push_back({"step.action", "RECEIVED is recorded by CreateSubjectRequest"});
  } else if (!Step::Action_IsValid(step.action()) || step.action() == Step::ACTION_UNSPECIFIED) {
    violations.push_back({"step.action", "required: PAUSED, RESUMED, EXTENDED, ANSWERED, REFUSED or WITHDRAWN"});
  } else if (!GroundFits(step.action(), step.ground())) {
    violations.push_back({"step.ground", GroundsOf(step.action())});
  }
  if (step.note().size() > kMaxNoteLength ||
      std::any_of(step.note().begin(), step.note().end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    violations.push_back({"step.note", "at most 200 characters on one line, no personal data"});
  }
  if (!violations.empty()) return InvalidArgumentError("invalid step", violations);

  if (IsClosed(clock.state)) return NotAllowed("the request is closed");
  switch (step.action()) {
    case Step::PAUSED:
      if (clock.state != v1::SubjectRequest::OPEN) return NotAllowed("only a running clock can be paused");
      break;
    case Step::RESUMED:
      if (clock.state != v1::SubjectRequest::PAUSED) return NotAllowed("only a paused clock can resume");
      break;
    case Step::EXTENDED:
      if (clock.state != v1::SubjectRequest::OPEN) return NotAllowed("only a running clock can be extended");
      if (clock.extended) return NotAllowed("the request was extended already");
      if (*day > clock.first_month_end) {
        return NotAllowed(absl::StrCat("an extension must be told within the first month (by ",
                                       FormatDay(clock.first_month_end), ")"));
      }
      break;
    case Step::ANSWERED:
      if (clock.state != v1::SubjectRequest::OPEN) return NotAllowed("a paused request resumes before it is answered");
      break;
    default:  // REFUSED, WITHDRAWN: from a running or a paused clock
      break;
  }
  return absl::OkStatus();
}

bool IsOverdue(const SubjectRequestClock& clock, absl::CivilDay today) {
  switch (clock.state) {
    case v1::SubjectRequest::OPEN:
      return today > clock.due;
    case v1::SubjectRequest::ANSWERED:
    case v1::SubjectRequest::REFUSED:
      return clock.closed.has_value() && *clock.closed > clock.due;
    default:  // paused: the clock is stopped; withdrawn: nothing is owed
      return false;
  }
}

}  // namespace refx::core

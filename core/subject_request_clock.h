// The statutory clock of a data subject's request (UK GDPR Art 12(3);
// DPA 2018 s45(3), s46-47 and s54 for Part 3 processing), as the ICO's
// guidance counts it:
//   - the day of receipt is day one, whatever day of the week;
//   - the answer is due on the corresponding date of the next month, or the
//     month's last day when it has no such date (received 31 January: due
//     28 or 29 February);
//   - a due date on a weekend or bank holiday (the agreement's calendar)
//     moves to the next working day;
//   - a pause to confirm identity, clarify the request or take a fee stops
//     the clock; it restarts, a full period, on the day the information
//     arrives;
//   - an extension makes the period three months from the clock's start, and
//     must be told to the person within its first month.
// Pure: the caller supplies the calendar and today's date.
#ifndef REFX_CORE_SUBJECT_REQUEST_CLOCK_H_
#define REFX_CORE_SUBJECT_REQUEST_CLOCK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "core/response_deadline.h"
#include "refx/v1/audit_service.pb.h"

namespace refx::core {

// The day a clock started on `start` and running `months` months ends: the
// corresponding date, clamped to the month's end, then moved to the next
// working day of `calendar`.
absl::CivilDay SubjectRequestDueDate(absl::CivilDay start, int months, const WorkingCalendar& calendar);

// `text` as a day (YYYY-MM-DD, a real date), or nullopt.
absl::optional<absl::CivilDay> ParseDay(absl::string_view text);
std::string FormatDay(absl::CivilDay day);

// Where a request's clock stands after its steps.
struct SubjectRequestClock {
  v1::SubjectRequest::State state = v1::SubjectRequest::OPEN;
  absl::CivilDay received;
  absl::CivilDay start;      // receipt, or the last resumption
  absl::CivilDay last_step;  // the day of the latest step
  absl::CivilDay due;
  absl::CivilDay first_month_end;  // the last day an extension may be told
  bool extended = false;
  absl::optional<absl::CivilDay> closed;  // the day it was answered, refused or withdrawn
};

// Replays `steps` (oldest first, the first RECEIVED) as CheckNextStep
// admitted them. INTERNAL if the stored steps do not replay.
absl::StatusOr<SubjectRequestClock> RunSubjectRequestClock(
    const google::protobuf::RepeatedPtrField<v1::SubjectRequestStep>& steps, const WorkingCalendar& calendar);

// Whether `step` may follow on `clock` on `today`: INVALID_ARGUMENT with
// field violations (under `step.`) for a malformed step,
// FAILED_PRECONDITION (SUBJECT_REQUEST_STEP_NOT_ALLOWED) for one the
// request's state or the law does not allow.
absl::Status CheckNextStep(const SubjectRequestClock& clock, const v1::SubjectRequestStep& step,
                           absl::CivilDay today);

// Whether the request is open past its due date on `today`, or was closed
// (answered or refused) after it.
bool IsOverdue(const SubjectRequestClock& clock, absl::CivilDay today);

}  // namespace refx::core

#endif  // REFX_CORE_SUBJECT_REQUEST_CLOCK_H_

#include "core/subject_request_clock.h"

#include "common/status_details.h"
#include "gtest/gtest.h"

namespace refx::core {
namespace {

using Step = v1::SubjectRequestStep;
using absl::CivilDay;

absl::TimeZone London() {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &tz));
  return tz;
}

class SubjectRequestClockTest : public ::testing::Test {
 protected:
  // 2026: Good Friday 3 April, Easter Monday 6 April, Christmas Day 25 December.
  WorkingCalendar calendar_{London(), {CivilDay(2026, 4, 3), CivilDay(2026, 4, 6), CivilDay(2026, 12, 25)}};

  static Step MakeStep(Step::Action action, const std::string& date, Step::Ground ground = Step::GROUND_UNSPECIFIED) {
    Step step;
    step.set_action(action);
    step.set_date(date);
    step.set_ground(ground);
    return step;
  }

  // The clock of a request received on `received` after `steps`, each
  // admitted by CheckNextStep on its own day first.
  SubjectRequestClock Run(const std::string& received, const std::vector<Step>& steps) {
    google::protobuf::RepeatedPtrField<Step> all;
    *all.Add() = MakeStep(Step::RECEIVED, received);
    for (const Step& step : steps) {
      absl::StatusOr<SubjectRequestClock> before = RunSubjectRequestClock(all, calendar_);
      EXPECT_TRUE(before.ok());
      absl::Status admitted = CheckNextStep(*before, step, *ParseDay(step.date()));
      EXPECT_TRUE(admitted.ok()) << Step::Action_Name(step.action()) << " " << step.date() << ": " << admitted;
      *all.Add() = step;
    }
    absl::StatusOr<SubjectRequestClock> clock = RunSubjectRequestClock(all, calendar_);
    EXPECT_TRUE(clock.ok()) << clock.status();
    return *clock;
  }
};

TEST_F(SubjectRequestClockTest, DueOnTheCorrespondingDateOfTheNextMonth) {
  // Received Wednesday 2 September: due Friday 2 October (the ICO's example
  // counts the day of receipt as day one).
  EXPECT_EQ(SubjectRequestDueDate(CivilDay(2026, 9, 2), 1, calendar_), CivilDay(2026, 10, 2));
}

TEST_F(SubjectRequestClockTest, AMonthWithoutTheDateEndsOnItsLastDay) {
  EXPECT_EQ(SubjectRequestDueDate(CivilDay(2026, 3, 31), 1, calendar_), CivilDay(2026, 4, 30));
  EXPECT_EQ(SubjectRequestDueDate(CivilDay(2028, 1, 31), 1, calendar_), CivilDay(2028, 2, 29));  // leap year
}

TEST_F(SubjectRequestClockTest, ADueDateOnAWeekendOrBankHolidayMovesToTheNextWorkingDay) {
  // 31 January: 28 February is a Saturday, so Monday 2 March.
  EXPECT_EQ(SubjectRequestDueDate(CivilDay(2026, 1, 31), 1, calendar_), CivilDay(2026, 3, 2));
  // 3 March: 3 April is Good Friday, then the weekend and Easter Monday.
  EXPECT_EQ(SubjectRequestDueDate(CivilDay(2026, 3, 3), 1, calendar_), CivilDay(2026, 4, 7));
}

TEST_F(SubjectRequestClockTest, APauseStopsTheClockAndResumingRestartsAFullMonth) {
  SubjectRequestClock clock = Run("2026-09-02", {MakeStep(Step::PAUSED, "2026-09-04", Step::IDENTITY)});
  EXPECT_EQ(clock.state, v1::SubjectRequest::PAUSED);
  EXPECT_FALSE(IsOverdue(clock, CivilDay(2026, 11, 1)));  // stopped: nothing runs out
  clock = Run("2026-09-02", {MakeStep(Step::PAUSED, "2026-09-04", Step::IDENTITY),
                             MakeStep(Step::RESUMED, "2026-09-20")});  // a Sunday: the day still counts
  EXPECT_EQ(clock.state, v1::SubjectRequest::OPEN);
  EXPECT_EQ(clock.due, CivilDay(2026, 10, 20));
  EXPECT_EQ(clock.first_month_end, CivilDay(2026, 10, 20));
}

TEST_F(SubjectRequestClockTest, AnExtensionRunsThreeMonthsFromTheStartIfToldWithinTheFirstMonth) {
  SubjectRequestClock clock = Run("2026-09-02", {MakeStep(Step::EXTENDED, "2026-10-02", Step::COMPLEXITY)});
  EXPECT_TRUE(clock.extended);
  EXPECT_EQ(clock.due, CivilDay(2026, 12, 2));

  SubjectRequestClock unextended = Run("2026-09-02", {});
  absl::Status late = CheckNextStep(unextended, MakeStep(Step::EXTENDED, "2026-10-05", Step::COMPLEXITY),
                                    CivilDay(2026, 10, 5));
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(late.message().find("2026-10-02"), absl::string_view::npos) << late;
  EXPECT_EQ(CheckNextStep(clock, MakeStep(Step::EXTENDED, "2026-10-02", Step::NUMBER_OF_REQUESTS),
                          CivilDay(2026, 10, 2))
                .code(),
            absl::StatusCode::kFailedPrecondition);  // once only
}

TEST_F(SubjectRequestClockTest, OverdueWhenOpenPastTheDueDateOrAnsweredAfterIt) {
  SubjectRequestClock open = Run("2026-09-02", {});
  EXPECT_FALSE(IsOverdue(open, CivilDay(2026, 10, 2)));
  EXPECT_TRUE(IsOverdue(open, CivilDay(2026, 10, 3)));
  EXPECT_FALSE(IsOverdue(Run("2026-09-02", {MakeStep(Step::ANSWERED, "2026-10-02")}), CivilDay(2026, 12, 1)));
  EXPECT_TRUE(IsOverdue(Run("2026-09-02", {MakeStep(Step::ANSWERED, "2026-10-05")}), CivilDay(2026, 12, 1)));
  EXPECT_FALSE(IsOverdue(Run("2026-09-02", {MakeStep(Step::WITHDRAWN, "2026-10-05")}), CivilDay(2026, 12, 1)));
}

TEST_F(SubjectRequestClockTest, StepsTheStateDoesNotAllowAreFailedPreconditions) {
  const SubjectRequestClock open = Run("2026-09-02", {});
  const SubjectRequestClock paused = Run("2026-09-02", {MakeStep(Step::PAUSED, "2026-09-03", Step::CLARIFICATION)});
  const SubjectRequestClock answered = Run("2026-09-02", {MakeStep(Step::ANSWERED, "2026-09-10")});
  const CivilDay today(2026, 9, 15);
  auto reason = [&](const SubjectRequestClock& clock, const Step& step) {
    absl::Status status = CheckNextStep(clock, step, today);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_EQ(ErrorReasonOf(status), "SUBJECT_REQUEST_STEP_NOT_ALLOWED");
  };
  reason(open, MakeStep(Step::RESUMED, "2026-09-15"));
  reason(paused, MakeStep(Step::ANSWERED, "2026-09-15"));
  reason(paused, MakeStep(Step::PAUSED, "2026-09-15", Step::IDENTITY));
  reason(paused, MakeStep(Step::EXTENDED, "2026-09-15", Step::COMPLEXITY));
  reason(answered, MakeStep(Step::WITHDRAWN, "2026-09-15"));
  EXPECT_TRUE(CheckNextStep(paused, MakeStep(Step::REFUSED, "2026-09-15", Step::MANIFESTLY_EXCESSIVE), today).ok());
}

TEST_F(SubjectRequestClockTest, MalformedStepsNameTheirFields) {
  const SubjectRequestClock clock = Run("2026-09-02", {MakeStep(Step::PAUSED, "2026-09-05", Step::FEE)});
  const CivilDay today(2026, 9, 15);
  auto fields = [&](const Step& step) {
    absl::Status status = CheckNextStep(clock, step, today);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    std::vector<std::string> out;
    for (const FieldViolation& v : FieldViolationsOf(status)) out.push_back(v.field);
    return out;
  };
  using F = std::vector<std::string>;
  EXPECT_EQ(fields(MakeStep(Step::RESUMED, "2026-09-04")), F{"step.date"});   // before the pause
  EXPECT_EQ(fields(MakeStep(Step::RESUMED, "2026-09-16")), F{"step.date"});   // tomorrow
  EXPECT_EQ(fields(MakeStep(Step::RESUMED, "2026-02-30")), F{"step.date"});   // no such day
  EXPECT_EQ(fields(MakeStep(Step::RESUMED, "15/09/2026")), F{"step.date"});
  EXPECT_EQ(fields(MakeStep(Step::RECEIVED, "2026-09-10")), F{"step.action"});
  EXPECT_EQ(fields(MakeStep(Step::ACTION_UNSPECIFIED, "2026-09-10")), F{"step.action"});
  EXPECT_EQ(fields(MakeStep(Step::RESUMED, "2026-09-10", Step::IDENTITY)), F{"step.ground"});
  EXPECT_EQ(fields(MakeStep(Step::REFUSED, "2026-09-10", Step::COMPLEXITY)), F{"step.ground"});
  Step multiline = MakeStep(Step::RESUMED, "2026-09-10");
  multiline.set_note("line one\nline two");
  EXPECT_EQ(fields(multiline), F{"step.note"});
}

TEST_F(SubjectRequestClockTest, StoredStepsThatDoNotBeginWithReceiptAreInternal) {
  google::protobuf::RepeatedPtrField<Step> steps;
  *steps.Add() = MakeStep(Step::ANSWERED, "2026-09-02");
  EXPECT_EQ(RunSubjectRequestClock(steps, calendar_).status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace refx::core

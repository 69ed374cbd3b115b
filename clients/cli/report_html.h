// The partnership report as one self-contained HTML file: the releases of a
// period on the agreement's grid (counts by area, strand, report type and
// channel, the trend per area by month, quarter or year, response times)
// and the tension alerts, as inline SVG
// charts with tables beside them. No script, no font, no image or style
// from anywhere else: a Content-Security-Policy of `default-src 'none'`
// makes the browser refuse any fetch, so the file opens the same offline.
//
// It renders what the server released and nothing else: a withheld count
// has no value here to leak, and is drawn and written as "withheld".
#ifndef REFX_CLIENTS_CLI_REPORT_HTML_H_
#define REFX_CLIENTS_CLI_REPORT_HTML_H_

#include <string>
#include <vector>

#include "refx/v1/reporting_service.pb.h"

namespace refx::cli {

struct ReportBundle {
  std::string period;  // e.g. 2026-Q3
  std::string grid;    // its kind, the agreement's release grid: month, quarter or year
  refx::v1::CountReferralsResponse by_area, by_strand, by_report_type, by_channel;
  // The same table by area for the periods up to and including `period`
  // (12 months, 4 quarters or 3 years), oldest first.
  std::vector<refx::v1::CountReferralsResponse> area_trend;
  refx::v1::ReportResponseTimesResponse response_times;
  refx::v1::ListTensionAlertsResponse tensions;
  std::string generated;  // RFC 3339
};

std::string RenderReportHtml(const ReportBundle& bundle);

}  // namespace refx::cli

#endif  // REFX_CLIENTS_CLI_REPORT_HTML_H_

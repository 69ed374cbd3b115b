// A subject access bundle (refx.v1.SubjectAccessBundle) as one
// self-contained HTML file a data protection officer can read, check and
// redact from: one section per controller, each referral it holds with
// every field it can read (walked from the message itself, so a field added
// to the API appears without a change here), its case updates, and to whom
// the data went. No script, no fetch: a Content-Security-Policy of
// `default-src 'none'`, and every value escaped.
#ifndef REFX_CLIENTS_CLI_SUBJECT_ACCESS_HTML_H_
#define REFX_CLIENTS_CLI_SUBJECT_ACCESS_HTML_H_

#include <string>

#include "refx/v1/audit_service.pb.h"

namespace refx::cli {

std::string RenderSubjectAccessHtml(const refx::v1::SubjectAccessBundle& bundle);

}  // namespace refx::cli

#endif  // REFX_CLIENTS_CLI_SUBJECT_ACCESS_HTML_H_

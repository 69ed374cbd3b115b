// "Who sees what", generated from the agreement itself, so the table in the
// docs can never drift from the rules the server enforces (a test compares
// docs/agreement.md with this output; `refx-admin agreement table` prints it).
#ifndef REFX_CORE_AGREEMENT_TABLE_H_
#define REFX_CORE_AGREEMENT_TABLE_H_

#include <string>

#include "refx/config/v1/agreement.pb.h"

namespace refx::core {

// A Markdown table: one row per role and purpose, one column per data
// class. A cell holds R (read with the victim's consent), R* (read also
// without consent, under a lawful basis the grant names), W (write), or "-".
// Roles with no grants get one row saying which permissions they hold.
std::string AgreementTableMarkdown(const config::v1::Agreement& agreement);

}  // namespace refx::core

#endif  // REFX_CORE_AGREEMENT_TABLE_H_

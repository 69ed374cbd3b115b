// Every SQL statement of the PostgreSQL backend, in one place, with named
// parameters only (the driver prepares them as $1, $2, ...): the PostgreSQL
// dialect of the store engine (storage/sql_driver.h).
#ifndef REFX_STORAGE_POSTGRES_PG_STATEMENTS_H_
#define REFX_STORAGE_POSTGRES_PG_STATEMENTS_H_

#include <vector>

#include "storage/sql_driver.h"

namespace refx::storage::postgres {

// The PostgreSQL dialect, shared by replicas (the engine re-reads the audit
// and event heads under the write lock and announces events from the log).
const SqlDialect& PostgresDialect();
const std::vector<Migration>& Migrations();

}  // namespace refx::storage::postgres

#endif  // REFX_STORAGE_POSTGRES_PG_STATEMENTS_H_

// Package schema holds the SQL migrations of the system of record, embedded so
// every program carries the schema it was built against.
package schema

import "embed"

// Migrations are tern migrations: NNN_name.sql, applied in order by `api migrate`.
//
//go:embed *.sql
var Migrations embed.FS

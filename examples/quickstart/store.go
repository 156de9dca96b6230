package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/bunstore"
	"github.com/paykit/paykit/store/memstore"
)

// openStore opens the -db store: "memory", a postgres:// URL, or a SQLite
// file (the default), migrated and ready.
func openStore(ctx context.Context, db string) (payment.Store, func(), error) {
	if db == "memory" {
		return memstore.New(), func() {}, nil
	}
	var (
		open = bunstore.OpenSQLite
		kind = "SQLite"
	)
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		open, kind = bunstore.OpenPostgres, "PostgreSQL"
	}
	bdb, err := open(db)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s store: %w", kind, err)
	}
	if err := bunstore.Migrate(ctx, bdb); err != nil {
		_ = bdb.Close()
		return nil, nil, fmt.Errorf("migrate %s store: %w", kind, err)
	}
	st, err := bunstore.New(bdb)
	if err != nil {
		_ = bdb.Close()
		return nil, nil, err
	}
	return st, func() { _ = bdb.Close() }, nil
}

package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/uptrace/bun/driver/pgdriver"
	"modernc.org/sqlite"

	"github.com/paykit/paykit/payment"
)

// SQLite result codes (https://sqlite.org/rescode.html).
const (
	sqliteBusy       = 5
	sqliteLocked     = 6
	sqliteIOErr      = 10
	sqliteFull       = 13
	sqliteCantOpen   = 14
	sqliteConstraint = 19

	sqliteConstraintCheck      = 275
	sqliteConstraintForeignKey = 787
	sqliteConstraintNotNull    = 1299
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

// mapError wraps a database error in the payment sentinel it stands for,
// keeping the original in the chain. Errors that already carry a sentinel
// are returned as they are.
func mapError(err error) error {
	if err == nil || isKnownOutcome(err) || errors.Is(err, payment.ErrUnavailable) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", payment.ErrNotFound, err)
	}
	if code := pgCode(err); code != "" {
		switch {
		case code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", payment.ErrAlreadyExists, err)
		case code == "23503": // foreign_key_violation: it refers to a missing record
			return fmt.Errorf("%w: %w", payment.ErrNotFound, err)
		case strings.HasPrefix(code, "23"), strings.HasPrefix(code, "22"):
			// Other integrity violations (check, not null) and data
			// exceptions (out of range, invalid JSON): the values given.
			return fmt.Errorf("%w: %w", payment.ErrInvalidInput, err)
		}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqliteConstraintUnique, sqliteConstraintPrimaryKey:
			return fmt.Errorf("%w: %w", payment.ErrAlreadyExists, err)
		case sqliteConstraintForeignKey:
			return fmt.Errorf("%w: %w", payment.ErrNotFound, err)
		case sqliteConstraintCheck, sqliteConstraintNotNull:
			return fmt.Errorf("%w: %w", payment.ErrInvalidInput, err)
		}
		if se.Code()&0xff == sqliteConstraint {
			return fmt.Errorf("%w: %w", payment.ErrInvalidInput, err)
		}
	}
	if isConnError(err) {
		return fmt.Errorf("%w: %w", payment.ErrUnavailable, err)
	}
	return err
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "": from bun's
// pgdriver, or from any driver whose errors have a SQLState method (pgx's
// *pgconn.PgError, lib/pq's *pq.Error).
func pgCode(err error) string {
	var pe pgdriver.Error
	if errors.As(err, &pe) {
		return pe.Field('C')
	}
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		return st.SQLState()
	}
	return ""
}

// isSerializationFailure reports a PostgreSQL serialization failure or
// deadlock: the statement was rolled back and may be run again.
func isSerializationFailure(err error) bool {
	code := pgCode(err)
	return code == "40001" || code == "40P01"
}

// isServerGone reports errors with which PostgreSQL says it refuses or ends
// the connection: class 08 (connection exception), 57P01 (admin shutdown),
// 57P02 (crash shutdown), 57P03 (cannot connect now).
func isServerGone(err error) bool {
	code := pgCode(err)
	return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03"
}

// isNotCommitted reports connection failures after which a write is known
// not to have committed, so that it is safe to run again: the statement was
// never sent (driver.ErrBadConn, a failed dial), or the server answered it
// with an error. A connection that broke while the statement was in flight
// (EOF, reset, timeout) leaves the outcome unknown: that error is returned,
// wrapping payment.ErrUnavailable, and the caller's next compare-and-set
// finds out what happened.
func isNotCommitted(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || isServerGone(err) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// isConnError reports errors that mean the database cannot be reached or
// the connection broke: they wrap payment.ErrUnavailable.
func isConnError(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	if isServerGone(err) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteBusy, sqliteLocked, sqliteIOErr, sqliteFull, sqliteCantOpen:
			return true
		}
	}
	return false
}

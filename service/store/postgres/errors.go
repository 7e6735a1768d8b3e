package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/keygate/keygate/service/store"
)

// SQLSTATE codes the translation looks at.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeInvalidText         = "22P02" // e.g. a malformed uuid
	codeBadCharacter        = "22021" // character_not_in_repertoire: NUL, invalid UTF-8
	codeUntranslatable      = "22P05" // untranslatable_character, e.g. \u0000 in jsonb
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
	codeQueryCanceled       = "57014" // statement_timeout, or a cancel request
	codeAdminShutdown       = "57P01"
	codeCrashShutdown       = "57P02"
	codeCannotConnectNow    = "57P03"
	codeTooManyConnections  = "53300"
	codeReadOnlyTransaction = "25006" // a standby after a failover
	classConnection         = "08"
)

// translate is the store's single error translation, applied to every
// error a method returns:
//
//   - store.Err* sentinels pass unchanged;
//   - pgx.ErrNoRows, unique, foreign key and malformed-uuid violations
//     become ErrNotFound or ErrAlreadyExists;
//   - text PostgreSQL cannot keep (NUL bytes, invalid UTF-8) becomes
//     ErrInvalidText;
//   - once the caller's ctx is done, anything else is reported as the
//     context's error (wrapped), never as ErrUnavailable;
//   - serialization failures and deadlocks become ErrAborted;
//   - failures to reach or keep a connection, and statement timeouts,
//     become ErrUnavailable wrapping the cause;
//   - the rest is returned wrapped: an internal error.
func translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var ce callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	for _, sentinel := range []error{store.ErrNotFound, store.ErrAlreadyExists, store.ErrUnavailable, store.ErrAborted, store.ErrLastOwner, store.ErrInvalidText,
		store.ErrLastGroup, store.ErrGroupNotEmpty, store.ErrDefaultGroup} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}

	var pgErr *pgconn.PgError
	isPg := errors.As(err, &pgErr)
	if isPg {
		switch pgErr.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%w: %s", store.ErrAlreadyExists, pgErr.ConstraintName)
		case codeForeignKeyViolation, codeInvalidText:
			return fmt.Errorf("%w: %v", store.ErrNotFound, err)
		case codeBadCharacter, codeUntranslatable:
			return fmt.Errorf("%w: %v", store.ErrInvalidText, err)
		}
	}

	// The caller gave up: whatever broke as a consequence (a cancelled
	// query, a connection closed mid-flight) is its cancellation.
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("postgres: %w", err)
		}
		return fmt.Errorf("postgres: %w (%v)", cerr, err)
	}

	if isPg {
		switch {
		case pgErr.Code == codeSerialization, pgErr.Code == codeDeadlock:
			return fmt.Errorf("%w: %v", store.ErrAborted, err)
		case pgErr.Code == codeQueryCanceled,
			pgErr.Code == codeAdminShutdown,
			pgErr.Code == codeCrashShutdown,
			pgErr.Code == codeCannotConnectNow,
			pgErr.Code == codeTooManyConnections,
			pgErr.Code == codeReadOnlyTransaction,
			strings.HasPrefix(pgErr.Code, classConnection):
			return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
		return fmt.Errorf("postgres: %w", err)
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %w", err)
}

// callerError carries an error of the caller's own, returned by a
// callback the store ran inside a transaction, past translate untouched.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// unreachable reports whether err means the database could not be reached
// or the connection was lost.
func unreachable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr),
		pgconn.SafeToRetry(err),
		pgconn.Timeout(err),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, puddle.ErrClosedPool),
		errors.As(err, &netErr),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed):
		return true
	}
	return false
}

// Package rpcerr builds the gRPC errors keygate returns: field violations
// for invalid input, and the one translation of store errors into status
// codes.
package rpcerr

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/service/store"
)

// Violations collects every problem with a request's fields, so that a
// caller learns about all of them at once.
type Violations []*errdetails.BadRequest_FieldViolation

// Add records that field (an attribute path inside the resource, dotted for
// nested objects) breaks a rule.
func (v *Violations) Add(field, description string) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{Field: field, Description: description})
}

// Err returns nil when there are no violations, else INVALID_ARGUMENT with
// a google.rpc.BadRequest detail listing them.
func (v Violations) Err() error {
	if len(v) == 0 {
		return nil
	}
	st := status.New(codes.InvalidArgument, "validation failed")
	st, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: v})
	if err != nil {
		return status.Error(codes.Internal, "cannot attach error details")
	}
	return st.Err()
}

// Invalid returns INVALID_ARGUMENT for a single field.
func Invalid(field, description string) error {
	var v Violations
	v.Add(field, description)
	return v.Err()
}

// Translate turns any error a handler returns into a gRPC status error.
// Status errors pass through. Store errors map onto their codes. Anything
// else is a bug: it becomes a bare INTERNAL, and internal reports true so
// that the caller logs the original error; its text never reaches the
// client.
func Translate(err error) (out error, internal bool) {
	if err == nil {
		return nil, false
	}
	if _, ok := status.FromError(err); ok {
		return err, false
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, "resource not found"), false
	case errors.Is(err, store.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, "resource already exists"), false
	case errors.Is(err, store.ErrAborted):
		return status.Error(codes.Aborted, "concurrent update, try again"), false
	case errors.Is(err, store.ErrInvalidText):
		return status.Error(codes.InvalidArgument, "the request holds text that cannot be stored: a NUL byte or invalid UTF-8"), false
	case errors.Is(err, store.ErrUnavailable):
		return status.Error(codes.Unavailable, "the store is unavailable, nothing was changed; try again"), false
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request cancelled"), false
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded"), false
	}
	return status.Error(codes.Internal, "internal error"), true
}

// Has reports whether field already has a violation.
func (v Violations) Has(field string) bool {
	for _, f := range v {
		if f.GetField() == field {
			return true
		}
	}
	return false
}

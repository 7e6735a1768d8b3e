package server

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// rejectNUL refuses requests with a NUL character in any string, before
// authentication: no store keeps them (PostgreSQL refuses them in text),
// so they are INVALID_ARGUMENT at the edge rather than an error deep
// inside, for gRPC and REST alike.
func rejectNUL(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok && hasNUL(m.ProtoReflect()) {
		return nil, status.Error(codes.InvalidArgument, "strings must not hold NUL characters")
	}
	return handler(ctx, req)
}

func hasNUL(m protoreflect.Message) bool {
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			list := v.List()
			for i := 0; i < list.Len() && !found; i++ {
				found = valueHasNUL(fd, list.Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				found = strings.IndexByte(k.String(), 0) >= 0 || valueHasNUL(fd.MapValue(), mv)
				return !found
			})
		default:
			found = valueHasNUL(fd, v)
		}
		return !found
	})
	return found
}

func valueHasNUL(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return strings.IndexByte(v.String(), 0) >= 0
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return hasNUL(v.Message())
	}
	return false
}

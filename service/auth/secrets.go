package auth

import (
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Secrets returns the secrets a message carries: the set string fields
// the proto declares with [debug_redact = true] (a new session token, the
// plaintext of a new API key), wherever they are nested. A response that
// carries one must not be cached (the gateway says Cache-Control:
// no-store), and the credentials it hands out are known to the failure
// limit. The declaration in the proto is the only list: a new response
// that hands out a secret needs nothing here.
func Secrets(m proto.Message) []string {
	var out []string
	collectSecrets(m.ProtoReflect(), &out)
	return out
}

func collectSecrets(m protoreflect.Message, out *[]string) {
	if !mayHoldSecret(m.Descriptor()) {
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
		case fd.Kind() == protoreflect.StringKind && !fd.IsList() && redacted(fd):
			if v.String() != "" {
				*out = append(*out, v.String())
			}
		case fd.Message() != nil && fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				collectSecrets(v.List().Get(i).Message(), out)
			}
		case fd.Message() != nil:
			collectSecrets(v.Message(), out)
		}
		return true
	})
}

func redacted(fd protoreflect.FieldDescriptor) bool {
	o, _ := fd.Options().(*descriptorpb.FieldOptions)
	return o.GetDebugRedact()
}

// holdsSecret caches, per message type, whether a redacted string field
// can be reached from it, so that most responses are not walked at all.
var holdsSecret sync.Map // protoreflect.FullName → bool

func mayHoldSecret(md protoreflect.MessageDescriptor) bool {
	if v, ok := holdsSecret.Load(md.FullName()); ok {
		return v.(bool)
	}
	v := reaches(md, map[protoreflect.FullName]bool{})
	holdsSecret.Store(md.FullName(), v)
	return v
}

func reaches(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
		case fd.Kind() == protoreflect.StringKind && redacted(fd):
			return true
		case fd.Message() != nil && reaches(fd.Message(), seen):
			return true
		}
	}
	return false
}

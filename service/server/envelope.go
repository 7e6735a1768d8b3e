package server

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// envelope rewrites a gRPC response into the Channex JSON shape that REST
// clients expect. The gRPC API stays idiomatic; this is the only place
// that knows the REST shape of responses:
//
//   - a response with one singular message field (GetPropertyResponse.property)
//     becomes {"data":{"type":"property","id":…,"attributes":{…}}}
//   - a response with a repeated message field and a `meta` field becomes
//     {"data":[…],"meta":{"page":…,"limit":…,"total":…}}; without `meta`,
//     {"data":[…]}
//   - an empty response becomes {"meta":{"message":"Success"}}
//   - when the request body had attributes that were ignored (see
//     decodeBody), a single resource gets "meta":{"ignored_attributes":[…]}
//
// A resource's type is its message name in snake_case unless its
// (resource).type option says otherwise. Attributes use the proto field
// names (snake_case) unless (field).name says otherwise; fields marked
// (field).relationship go under "relationships" as {"data": …}. Unset
// messages, timestamps and `optional` scalars are null, but for those
// marked (field).omit_unset, which are left out (the plaintext api_key
// appears only in the create response); timestamps are RFC 3339 in UTC;
// enum values lose their type prefix and are lower-cased
// (API_KEY_STATUS_REVOKED → "revoked").
func envelope(ctx context.Context, resp proto.Message) (any, error) {
	m := resp.ProtoReflect()
	fields := m.Descriptor().Fields()
	var b bytes.Buffer
	b.Grow(2048) // most answers fit: one allocation instead of several
	switch {
	case fields.Len() == 0:
		b.WriteString(`{"meta":{"message":"Success"}}`)
	case fields.Get(0).IsList() && (fields.Len() == 1 || fields.Len() == 2 && fields.Get(1).Name() == "meta"):
		b.WriteString(`{"data":[`)
		list := m.Get(fields.Get(0)).List()
		for i := 0; i < list.Len(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			resource(&b, list.Get(i).Message())
		}
		b.WriteByte(']')
		if fields.Len() == 2 {
			b.WriteString(`,"meta":`)
			object(&b, m.Get(fields.Get(1)).Message())
		}
		b.WriteByte('}')
	case fields.Len() == 1 && fields.Get(0).Message() != nil:
		b.WriteString(`{"data":`)
		resource(&b, m.Get(fields.Get(0)).Message())
		if c := restCallFrom(ctx); c != nil && len(c.ignored) > 0 {
			b.WriteString(`,"meta":{"ignored_attributes":`)
			ignored, _ := json.Marshal(c.ignored) // strings always marshal
			b.Write(ignored)
			b.WriteByte('}')
		}
		b.WriteByte('}')
	default:
		object(&b, m) // not a resource response; never the case for keygate.v1
	}
	return json.RawMessage(b.Bytes()), nil
}

// Marshal writes what envelope made as it is: it is JSON already, and
// JSONPb would parse, compact and copy it once more.
func (j *jsonBody) Marshal(v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	return j.JSONPb.Marshal(v)
}

// resource writes one {"type","id","attributes","relationships"} object.
func resource(b *bytes.Buffer, m protoreflect.Message) {
	d := m.Descriptor()
	b.WriteString(`{"type":`)
	writeString(b, resourceType(d))
	if id := d.Fields().ByName("id"); id != nil && id.Kind() == protoreflect.StringKind {
		b.WriteString(`,"id":`)
		writeString(b, m.Get(id).String())
	}
	b.WriteString(`,"attributes":`)
	object(b, m)
	if hasRelationships(d) {
		b.WriteString(`,"relationships":{`)
		first := true
		fields := d.Fields()
		for i := 0; i < fields.Len(); i++ {
			f := fields.Get(i)
			if !fieldOf(f).GetRelationship() {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			writeString(b, restName(f))
			b.WriteString(`:{"data":`)
			switch {
			case f.IsList():
				list := m.Get(f).List()
				b.WriteByte('[')
				for j := 0; j < list.Len(); j++ {
					if j > 0 {
						b.WriteByte(',')
					}
					related(b, list.Get(j).Message())
				}
				b.WriteByte(']')
			case m.Has(f):
				related(b, m.Get(f).Message())
			default:
				b.WriteString("null")
			}
			b.WriteByte('}')
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
}

// related writes a related record: its id, its type, and its other fields.
func related(b *bytes.Buffer, m protoreflect.Message) {
	d := m.Descriptor()
	b.WriteString(`{"id":`)
	writeString(b, m.Get(d.Fields().ByName("id")).String())
	b.WriteString(`,"type":`)
	writeString(b, resourceType(d))
	fields := d.Fields()
	for i := 0; i < fields.Len(); i++ {
		if f := fields.Get(i); f.Name() != "id" {
			b.WriteByte(',')
			field(b, m, f)
		}
	}
	b.WriteByte('}')
}

// resourceTypes and enumValueNames hold names derived from descriptors, once
// per descriptor.
var resourceTypes, enumValueNames sync.Map // descriptor → string

func resourceType(d protoreflect.MessageDescriptor) string {
	if t, ok := resourceTypes.Load(d); ok {
		return t.(string)
	}
	t := resourceOf(d).GetType()
	if t == "" {
		t = snake(string(d.Name()))
	}
	resourceTypes.Store(d, t)
	return t
}

func hasRelationships(d protoreflect.MessageDescriptor) bool {
	fields := d.Fields()
	for i := 0; i < fields.Len(); i++ {
		if fieldOf(fields.Get(i)).GetRelationship() {
			return true
		}
	}
	return false
}

// restName is a field's name on REST.
func restName(f protoreflect.FieldDescriptor) string {
	if n := fieldOf(f).GetName(); n != "" {
		return n
	}
	return string(f.Name())
}

// object writes every attribute of m, set or not, in declaration order.
func object(b *bytes.Buffer, m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	b.WriteByte('{')
	first := true
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		opts := fieldOf(f)
		if opts.GetRelationship() || opts.GetOmitUnset() && !m.Has(f) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		field(b, m, f)
	}
	b.WriteByte('}')
}

// field writes "name":value; unset messages and optional scalars are null.
func field(b *bytes.Buffer, m protoreflect.Message, f protoreflect.FieldDescriptor) {
	writeString(b, restName(f))
	b.WriteByte(':')
	switch {
	case f.IsList():
		list := m.Get(f).List()
		b.WriteByte('[')
		for j := 0; j < list.Len(); j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			value(b, f, list.Get(j))
		}
		b.WriteByte(']')
	case f.HasPresence() && !m.Has(f):
		b.WriteString("null")
	default:
		value(b, f, m.Get(f))
	}
}

func value(b *bytes.Buffer, f protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch f.Kind() {
	case protoreflect.MessageKind:
		msg := v.Message()
		switch w := msg.Interface().(type) {
		case *timestamppb.Timestamp:
			writeString(b, w.AsTime().UTC().Format(time.RFC3339Nano))
			return
		case *wrapperspb.Int32Value:
			b.WriteString(strconv.FormatInt(int64(w.GetValue()), 10))
			return
		case *wrapperspb.StringValue:
			writeString(b, w.GetValue())
			return
		case *structpb.Struct:
			out, _ := protojson.Marshal(w) // a Struct always marshals
			_ = json.Compact(b, out)       // protojson may add spaces
			return
		}
		object(b, msg)
	case protoreflect.EnumKind:
		writeString(b, enumName(f.Enum(), v.Enum()))
	case protoreflect.StringKind:
		writeString(b, v.String())
	case protoreflect.BoolKind:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	default: // bytes and groups: keygate.v1 has none
		b.WriteString("null")
	}
}

// enumName turns API_KEY_STATUS_REVOKED of enum ApiKeyStatus into "revoked".
func enumName(e protoreflect.EnumDescriptor, n protoreflect.EnumNumber) string {
	v := e.Values().ByNumber(n)
	if v == nil {
		return strconv.Itoa(int(n))
	}
	if name, ok := enumValueNames.Load(v); ok {
		return name.(string)
	}
	prefix := strings.ToUpper(snake(string(e.Name()))) + "_"
	name := strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix))
	enumValueNames.Store(v, name)
	return name
}

// snake turns ApiKey into api_key.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// writeString writes s as a JSON string, byte for byte as json.Marshal
// would (HTML-safe, invalid UTF-8 as U+FFFD), without allocating.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			b.WriteString(s[start:i])
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

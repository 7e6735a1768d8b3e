package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

// restCall is what the REST layer learns about one request while it
// decodes the body, for the answer: attributes it ignored and attributes
// of the wrong JSON type.
type restCall struct {
	ignored    []string            // Channex attributes ignored, by path
	violations map[string][]string // wrong JSON types, by attribute path: a 422
}

type restCallKey struct{}

// restCallFrom returns the call of a request's context, or nil.
func restCallFrom(ctx context.Context) *restCall {
	c, _ := ctx.Value(restCallKey{}).(*restCall)
	return c
}

// requestBody is a request body that carries its call to the decoder
// (grpc-gateway hands the decoder the body, not the request).
type requestBody struct {
	io.ReadCloser
	call *restCall
}

// withRESTCall gives r a fresh call, in its context and on its body.
func withRESTCall(r *http.Request) *http.Request {
	c := &restCall{}
	r = r.WithContext(context.WithValue(r.Context(), restCallKey{}, c))
	r.Body = &requestBody{ReadCloser: r.Body, call: c}
	return r
}

// jsonBody decodes request bodies by the proto descriptors, with Channex's
// rules (see decodeBody). Responses are written by envelope and pass
// through JSONPb untouched.
type jsonBody struct{ runtime.JSONPb }

func (*jsonBody) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		data, err := io.ReadAll(r) // bounded by httpMiddleware's MaxBytesReader
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return io.EOF // no body: the gateway treats it as an empty request
		}
		m, ok := v.(proto.Message)
		if !ok {
			return fmt.Errorf("cannot decode into %T", v)
		}
		call := &restCall{}
		if b, ok := r.(*requestBody); ok {
			call = b.call
		}
		return decodeBody(data, m.ProtoReflect(), call)
	})
}

// errWrongTypes is returned when attributes have the wrong JSON type; the
// call holds them and the answer is a 422.
var errWrongTypes = errors.New("attributes of the wrong type")

// decodeBody fills m from a JSON body:
//
//   - The body is one JSON object whose members are fields of m (the
//     wrapper, such as "property"): anything else is a 400.
//   - Inside keygate's own messages an unknown attribute is a 400. Inside a
//     message marked lenient (a Channex resource), unknown attributes are
//     ignored and recorded in call.ignored, and its read-only attributes are
//     ignored silently.
//   - A value of the wrong JSON type is recorded in call.violations under
//     its attribute path (a 422 for all of them at once).
//   - null leaves a field unset. When m has an update_mask, it is filled
//     with the paths of the resource's attributes present in the body, null
//     ones included: present ones are set, null ones cleared, absent ones
//     kept; nested objects (settings, content) merge attribute by attribute.
//   - No string or key may hold a NUL character (a 400).
func decodeBody(data []byte, m protoreflect.Message, call *restCall) error {
	if !utf8.Valid(data) {
		return errors.New("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var body any
	if err := dec.Decode(&body); err != nil {
		return errors.New("the body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("the body must hold exactly one JSON object")
	}
	obj, ok := body.(map[string]any)
	if !ok {
		return errors.New("the body must be a JSON object")
	}
	// No store keeps NUL characters (PostgreSQL refuses them in text): a
	// 400 wherever they are, even in attributes that would be ignored.
	if jsonHasNUL(obj) {
		return errors.New("the body holds a NUL character")
	}
	d := bodyDecoder{call: call}
	fields := m.Descriptor().Fields()
	maskField := fields.ByName("update_mask")
	for _, key := range sortedKeys(obj) {
		fd := fieldByName(fields, key)
		if fd == nil || fd == maskField {
			return fmt.Errorf("unknown field %q: the body must be {%s}", key, wrapperNames(m.Descriptor()))
		}
		path := key // attribute paths start anew inside a wrapper
		if fd.Message() != nil && !fd.IsList() {
			if _, ok := obj[key].(map[string]any); !ok && obj[key] != nil {
				return fmt.Errorf("%q must be a JSON object", key)
			}
			path = ""
		}
		d.set(m, fd, obj[key], path)
		if maskField != nil && fd.Message() != nil && !fd.IsList() {
			if sub, ok := obj[key].(map[string]any); ok {
				mask := &fieldmaskpb.FieldMask{Paths: d.presentPaths(fd.Message(), sub, "")}
				m.Set(maskField, protoreflect.ValueOfMessage(mask.ProtoReflect()))
			}
		}
	}
	if d.err != nil {
		return d.err
	}
	if len(call.violations) > 0 {
		return errWrongTypes
	}
	return nil
}

type bodyDecoder struct {
	call    *restCall
	err     error // the first reason for a 400
	lenient bool  // inside a Channex resource
}

func (d *bodyDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *bodyDecoder) wrongType(path, msg string) {
	if d.call.violations == nil {
		d.call.violations = map[string][]string{}
	}
	d.call.violations[path] = append(d.call.violations[path], msg)
}

// object fills m from a JSON object; path is the attribute path of m
// inside the resource ("" at its top).
func (d *bodyDecoder) object(m protoreflect.Message, obj map[string]any, path string) {
	res := resourceOf(m.Descriptor())
	if res.GetLenient() && !d.lenient {
		d.lenient = true // everything below a Channex resource is lenient
		defer func() { d.lenient = false }()
	}
	fields := m.Descriptor().Fields()
	for _, key := range sortedKeys(obj) {
		fd := fieldByName(fields, key)
		switch {
		case fd != nil:
			d.set(m, fd, obj[key], join(path, string(fd.Name())))
		case slices.Contains(res.GetReadOnly(), key):
		case d.lenient:
			d.call.ignored = append(d.call.ignored, join(path, key))
		default:
			d.fail("unknown attribute %q", join(path, key))
		}
	}
}

// set sets field fd of m from a JSON value. path is the attribute path of
// the field ("" for the members of the body itself, whose paths start
// anew inside them).
func (d *bodyDecoder) set(m protoreflect.Message, fd protoreflect.FieldDescriptor, v any, path string) {
	if v == nil {
		return // null: unset (and, with an update mask, cleared)
	}
	switch {
	case fd.IsList():
		arr, ok := v.([]any)
		if !ok {
			d.wrongType(path, "must be an array")
			return
		}
		list := m.Mutable(fd).List()
		for i, item := range arr {
			itemPath := path + "[" + strconv.Itoa(i) + "]"
			if fd.Message() != nil {
				elem := list.NewElement()
				if d.message(elem.Message(), item, itemPath) {
					list.Append(elem)
				}
				continue
			}
			if val, ok := d.scalar(fd, item, itemPath); ok {
				list.Append(val)
			}
		}
	case fd.IsMap():
		d.fail("maps are not supported in bodies")
	case fd.Message() != nil:
		msg := m.NewField(fd).Message()
		if d.message(msg, v, path) {
			m.Set(fd, protoreflect.ValueOfMessage(msg))
		}
	default:
		if val, ok := d.scalar(fd, v, path); ok {
			m.Set(fd, val)
		}
	}
}

// message fills msg from a JSON value and reports whether it did.
func (d *bodyDecoder) message(msg protoreflect.Message, v any, path string) bool {
	switch t := msg.Interface().(type) {
	case *timestamppb.Timestamp:
		s, ok := v.(string)
		at, err := time.Parse(time.RFC3339Nano, s)
		if !ok || err != nil {
			d.wrongType(path, "must be a time in RFC 3339 format, e.g. 2030-01-31T12:00:00Z")
			return false
		}
		proto.Merge(t, timestamppb.New(at))
		return true
	case *structpb.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			d.wrongType(path, "must be a JSON object")
			return false
		}
		b, _ := json.Marshal(obj) // decoded from JSON, it encodes again
		if err := protojson.Unmarshal(b, t); err != nil {
			d.wrongType(path, "must be a JSON object")
			return false
		}
		return true
	case *keygatev1.Price:
		switch p := v.(type) {
		case string:
			t.Amount = &keygatev1.Price_Decimal{Decimal: p}
			return true
		case json.Number:
			if n, err := strconv.ParseInt(string(p), 10, 64); err == nil {
				t.Amount = &keygatev1.Price_MinorUnits{MinorUnits: n}
				return true
			}
		}
		d.wrongType(path, "must be a decimal string such as \"100.00\" or an integer of the currency's minor units such as 10000")
		return false
	}
	obj, ok := v.(map[string]any)
	if !ok {
		d.wrongType(path, "must be an object")
		return false
	}
	d.object(msg, obj, path)
	return true
}

// scalar converts a JSON value to a field's scalar kind.
func (d *bodyDecoder) scalar(fd protoreflect.FieldDescriptor, v any, path string) (protoreflect.Value, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		switch s := v.(type) {
		case string:
			return protoreflect.ValueOfString(s), true
		case json.Number:
			if fieldOf(fd).GetNumberAsString() {
				return protoreflect.ValueOfString(string(s)), true
			}
		}
		d.wrongType(path, "must be a string")
	case protoreflect.BoolKind:
		if b, ok := v.(bool); ok {
			return protoreflect.ValueOfBool(b), true
		}
		d.wrongType(path, "must be true or false")
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		bits := 64
		if fd.Kind() == protoreflect.Int32Kind || fd.Kind() == protoreflect.Sint32Kind || fd.Kind() == protoreflect.Sfixed32Kind {
			bits = 32
		}
		if n, ok := integer(v, bits); ok {
			if bits == 32 {
				return protoreflect.ValueOfInt32(int32(n)), true
			}
			return protoreflect.ValueOfInt64(n), true
		}
		d.wrongType(path, "must be an integer")
	case protoreflect.EnumKind:
		if s, ok := v.(string); ok {
			if n, ok := enumValue(fd.Enum(), s); ok {
				return protoreflect.ValueOfEnum(n), true
			}
		}
		d.wrongType(path, "must be one of "+strings.Join(enumNames(fd.Enum()), ", "))
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil && !math.IsInf(f, 0) {
				return protoreflect.ValueOfFloat64(f), true
			}
		}
		d.wrongType(path, "must be a number")
	default:
		d.fail("attribute %q has a type bodies cannot carry", path)
	}
	return protoreflect.Value{}, false
}

// integer accepts a JSON number without a fraction, or a string of one (as
// protojson does), in range of a signed integer of the given bits.
func integer(v any, bits int) (int64, bool) {
	var s string
	switch t := v.(type) {
	case json.Number:
		s = string(t)
	case string:
		s = t
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, bits)
	return n, err == nil
}

// jsonHasNUL reports whether a decoded JSON value holds a NUL character in
// any string or key.
func jsonHasNUL(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.IndexByte(t, 0) >= 0
	case []any:
		return slices.ContainsFunc(t, jsonHasNUL)
	case map[string]any:
		for k, e := range t {
			if strings.IndexByte(k, 0) >= 0 || jsonHasNUL(e) {
				return true
			}
		}
	}
	return false
}

// presentPaths lists the attribute paths of an update: every attribute of
// the JSON object present (null included), nested keygate objects
// attribute by attribute, and nothing that was ignored.
func (d *bodyDecoder) presentPaths(md protoreflect.MessageDescriptor, obj map[string]any, prefix string) []string {
	var paths []string
	fields := md.Fields()
	for _, key := range sortedKeys(obj) {
		fd := fieldByName(fields, key)
		if fd == nil {
			continue
		}
		path := prefix + string(fd.Name())
		if sub, ok := obj[key].(map[string]any); ok && mergeable(fd) {
			paths = append(paths, d.presentPaths(fd.Message(), sub, path+".")...)
			continue
		}
		paths = append(paths, path)
	}
	return paths
}

// mergeable reports whether an update merges a field's object attribute
// by attribute (settings, content) rather than replacing it (a price, a
// JSON object of overrides, a time).
func mergeable(fd protoreflect.FieldDescriptor) bool {
	md := fd.Message()
	if md == nil || fd.IsList() || md.ParentFile().Package() != "keygate.v1" {
		return false
	}
	for i := 0; i < md.Oneofs().Len(); i++ {
		if !md.Oneofs().Get(i).IsSynthetic() {
			return false // a choice, such as a price: given whole
		}
	}
	return true
}

// enumValue finds an enum value by its REST name (api_key_status
// "revoked") or its full name (API_KEY_STATUS_REVOKED).
func enumValue(e protoreflect.EnumDescriptor, s string) (protoreflect.EnumNumber, bool) {
	if v := e.Values().ByName(protoreflect.Name(s)); v != nil && v.Number() != 0 {
		return v.Number(), true
	}
	for i := 1; i < e.Values().Len(); i++ {
		if v := e.Values().Get(i); enumName(e, v.Number()) == s {
			return v.Number(), true
		}
	}
	return 0, false
}

func enumNames(e protoreflect.EnumDescriptor) []string {
	var names []string
	for i := 0; i < e.Values().Len(); i++ {
		if v := e.Values().Get(i); v.Number() != 0 {
			names = append(names, enumName(e, v.Number()))
		}
	}
	return names
}

// fieldByName finds a field by its REST (proto) name or its JSON name.
func fieldByName(fields protoreflect.FieldDescriptors, key string) protoreflect.FieldDescriptor {
	if fd := fields.ByName(protoreflect.Name(key)); fd != nil {
		return fd
	}
	return fields.ByJSONName(key)
}

func wrapperNames(md protoreflect.MessageDescriptor) string {
	var names []string
	for i := 0; i < md.Fields().Len(); i++ {
		if fd := md.Fields().Get(i); fd.Name() != "update_mask" && fd.Name() != "id" {
			names = append(names, strconv.Quote(string(fd.Name()))+": …")
		}
	}
	return strings.Join(names, ", ")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys(obj map[string]any) []string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Options read from descriptors, which never change, once per descriptor:
// the envelope asks for them for every field of every response.
var resourceOptions, fieldOptions sync.Map // descriptor → options

// resourceOf returns the REST options of a message (never nil; shared:
// read only).
func resourceOf(md protoreflect.MessageDescriptor) *keygatev1.Resource {
	if r, ok := resourceOptions.Load(md); ok {
		return r.(*keygatev1.Resource)
	}
	r, _ := proto.GetExtension(md.Options(), keygatev1.E_Resource).(*keygatev1.Resource)
	if r == nil {
		r = &keygatev1.Resource{}
	}
	resourceOptions.Store(md, r)
	return r
}

// fieldOf returns the REST options of a field (never nil; shared: read
// only).
func fieldOf(fd protoreflect.FieldDescriptor) *keygatev1.Field {
	if f, ok := fieldOptions.Load(fd); ok {
		return f.(*keygatev1.Field)
	}
	f, _ := proto.GetExtension(fd.Options(), keygatev1.E_Field).(*keygatev1.Field)
	if f == nil {
		f = &keygatev1.Field{}
	}
	fieldOptions.Store(fd, f)
	return f
}

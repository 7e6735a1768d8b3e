package auth

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

// rule is the compiled form of a method's keygate.v1.auth option.
type rule struct {
	allow              map[keygatev1.Credential]bool
	apiKeys            bool                           // allow holds CREDENTIAL_API_KEY (read per request)
	propertyField      []protoreflect.FieldDescriptor // path to the property id; nil when the RPC names none
	needsAllProperties bool
	read               bool // declared a read: read-only keys may call it
}

// loadRules reads the auth option of every RPC of every service in the
// keygate.v1 package. A malformed option (a property_field that is not a
// string field of the request) is an error, so it fails at start-up rather
// than on the first request.
func loadRules() (map[string]*rule, error) {
	rules := map[string]*rule{}
	var err error
	protoregistry.GlobalFiles.RangeFilesByPackage("keygate.v1", func(fd protoreflect.FileDescriptor) bool {
		services := fd.Services()
		for i := 0; i < services.Len(); i++ {
			methods := services.Get(i).Methods()
			for j := 0; j < methods.Len(); j++ {
				m := methods.Get(j)
				opt, _ := proto.GetExtension(m.Options(), keygatev1.E_Auth).(*keygatev1.AuthRule)
				if opt == nil || len(opt.GetAllow()) == 0 {
					continue // no rule: denied by default
				}
				r := rule{allow: map[keygatev1.Credential]bool{}, needsAllProperties: opt.GetNeedsAllProperties(), read: opt.GetRead()}
				for _, c := range opt.GetAllow() {
					r.allow[c] = true
				}
				r.apiKeys = r.allow[keygatev1.Credential_CREDENTIAL_API_KEY]
				if name := opt.GetPropertyField(); name != "" {
					if r.propertyField, err = fieldPath(m.Input(), name); err != nil {
						err = fmt.Errorf("auth rule of %s: %w", m.FullName(), err)
						return false
					}
				}
				rules[fmt.Sprintf("/%s/%s", services.Get(i).FullName(), m.Name())] = &r
			}
		}
		return true
	})
	return rules, err
}

// fieldPath resolves a dotted path such as "invite.property_id" to the
// fields it walks through; the last one must be a singular string.
func fieldPath(msg protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	var out []protoreflect.FieldDescriptor
	names := strings.Split(path, ".")
	for i, name := range names {
		var f protoreflect.FieldDescriptor
		if msg != nil {
			f = msg.Fields().ByName(protoreflect.Name(name))
		}
		last := i == len(names)-1
		switch {
		case f == nil || f.IsList() || f.IsMap():
			return nil, fmt.Errorf("property_field %q: no singular field %q", path, name)
		case last && f.Kind() != protoreflect.StringKind:
			return nil, fmt.Errorf("property_field %q is not a string", path)
		case !last && f.Kind() != protoreflect.MessageKind:
			return nil, fmt.Errorf("property_field %q: %q is not a message", path, name)
		}
		out = append(out, f)
		msg = f.Message()
	}
	return out, nil
}

// propertyID reads the property id a request names, "" when unset.
func (r rule) propertyID(req protoreflect.Message) string {
	for _, f := range r.propertyField[:len(r.propertyField)-1] {
		if !req.Has(f) {
			return ""
		}
		req = req.Get(f).Message()
	}
	return req.Get(r.propertyField[len(r.propertyField)-1]).String()
}

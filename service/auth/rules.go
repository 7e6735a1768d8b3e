package auth

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

// rule is the compiled form of a method's keygate.v1.auth option.
type rule struct {
	allow              map[keygatev1.Credential]bool
	propertyField      protoreflect.FieldDescriptor // nil when the RPC names no property
	needsAllProperties bool
}

// loadRules reads the auth option of every RPC of every service in the
// keygate.v1 package. A malformed option (a property_field that is not a
// string field of the request) is an error, so it fails at start-up rather
// than on the first request.
func loadRules() (map[string]rule, error) {
	rules := map[string]rule{}
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
				r := rule{allow: map[keygatev1.Credential]bool{}, needsAllProperties: opt.GetNeedsAllProperties()}
				for _, c := range opt.GetAllow() {
					r.allow[c] = true
				}
				if name := opt.GetPropertyField(); name != "" {
					f := m.Input().Fields().ByName(protoreflect.Name(name))
					if f == nil || f.Kind() != protoreflect.StringKind || f.IsList() {
						err = fmt.Errorf("auth rule of %s: property_field %q is not a string field of %s", m.FullName(), name, m.Input().FullName())
						return false
					}
					r.propertyField = f
				}
				rules[fmt.Sprintf("/%s/%s", services.Get(i).FullName(), m.Name())] = r
			}
		}
		return true
	})
	return rules, err
}

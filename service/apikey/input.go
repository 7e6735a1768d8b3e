package apikey

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/rpcerr"
	"github.com/keygate/keygate/service/store"
)

const (
	maxNameLen = 255
	// maxScope bounds how many properties one key may name.
	maxScope = 1000
	// maxAllowedIPs bounds how many networks one key may name.
	maxAllowedIPs = 100
)

// The writable attributes of a key, by their names in ApiKeyInput (and on
// REST). inputPaths is all of them: a create sets every one.
var inputPaths = map[string]bool{
	"name": true, "all_properties": true, "property_ids": true,
	"access": true, "allowed_ips": true, "expires_at": true,
}

// maskPaths returns the attributes an update changes: those its mask names
// (relative to api_key, AIP-134), "*" meaning all of them; without a mask,
// those set in api_key.
func maskPaths(req *keygatev1.UpdateApiKeyRequest) (map[string]bool, error) {
	in := req.GetApiKey()
	paths := map[string]bool{}
	if len(req.GetUpdateMask().GetPaths()) == 0 {
		paths["name"] = in.GetName() != ""
		paths["all_properties"] = in.GetAllProperties()
		paths["property_ids"] = len(in.GetPropertyIds()) > 0
		paths["access"] = in.GetAccess() != ""
		paths["allowed_ips"] = len(in.GetAllowedIps()) > 0
		paths["expires_at"] = in.GetExpiresAt() != nil
		return paths, nil
	}
	var v rpcerr.Violations
	for _, p := range req.GetUpdateMask().GetPaths() {
		switch {
		case p == "*":
			return inputPaths, nil
		case inputPaths[p]:
			paths[p] = true
		default:
			v.Add("update_mask", fmt.Sprintf("%q is not a writable attribute of an API key", p))
		}
	}
	return paths, v.Err()
}

// apply sets the attributes of k that paths names from in, and checks the
// result against every rule. Violations name REST attribute paths.
func apply(k *store.APIKey, in *keygatev1.ApiKeyInput, paths map[string]bool, now time.Time) rpcerr.Violations {
	var v rpcerr.Violations
	if paths["name"] {
		k.Name = strings.TrimSpace(in.GetName())
	}
	switch {
	case k.Name == "":
		v.Add("name", "can't be blank")
	case utf8.RuneCountInString(k.Name) > maxNameLen:
		v.Add("name", fmt.Sprintf("is too long (maximum is %d characters)", maxNameLen))
	}

	if paths["all_properties"] {
		k.AllProperties = in.GetAllProperties()
	}
	if paths["property_ids"] {
		k.PropertyIDs = slices.Clone(in.GetPropertyIds())
	}
	ids := k.PropertyIDs
	switch {
	case k.AllProperties && len(ids) > 0:
		v.Add("property_ids", "must be empty when all_properties is true")
	case !k.AllProperties && len(ids) == 0:
		v.Add("property_ids", "can't be empty unless all_properties is true")
	case len(ids) > maxScope:
		v.Add("property_ids", fmt.Sprintf("is too long (maximum is %d properties)", maxScope))
	default:
		for n, id := range ids {
			if !store.ValidID(id) {
				v.Add("property_ids", fmt.Sprintf("item %d is not a property id", n+1))
			}
		}
	}

	if paths["access"] {
		switch in.GetAccess() {
		case "", accessReadWrite:
			k.ReadOnly = false
		case accessReadOnly:
			k.ReadOnly = true
		default:
			v.Add("access", "must be read_write or read_only")
		}
	}

	if paths["allowed_ips"] {
		k.AllowedIPs = parseNetworks(in.GetAllowedIps(), &v)
	}

	if paths["expires_at"] {
		k.ExpiresAt = time.Time{}
		if ts := in.GetExpiresAt(); ts != nil {
			switch t := ts.AsTime().Truncate(store.Precision).UTC(); {
			case ts.CheckValid() != nil:
				v.Add("expires_at", "is not a valid time")
			case !t.After(now):
				v.Add("expires_at", "must be in the future")
			default:
				k.ExpiresAt = t
			}
		}
	}
	return v
}

// parseNetworks reads allowed_ips: CIDRs, or bare addresses meaning that
// address alone (/32 or /128). Networks come back masked (10.1.2.3/8 is
// 10.0.0.0/8), without repeats, in the order given; IPv4 written inside
// IPv6 (::ffff:10.0.0.1) as IPv4, since client addresses are compared so.
func parseNetworks(in []string, v *rpcerr.Violations) []netip.Prefix {
	if len(in) > maxAllowedIPs {
		v.Add("allowed_ips", fmt.Sprintf("is too long (maximum is %d entries)", maxAllowedIPs))
		return nil
	}
	out := make([]netip.Prefix, 0, len(in))
	for i, s := range in {
		p, ok := parseNetwork(strings.TrimSpace(s))
		if !ok {
			v.Add(fmt.Sprintf("allowed_ips[%d]", i), "is not an IP address or CIDR (e.g. 203.0.113.7 or 2001:db8::/32)")
			continue
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func parseNetwork(s string) (netip.Prefix, bool) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// widens reports whether next can do anything old could not: reach more
// properties, write, be used from more addresses, or live longer.
func widens(old, next store.APIKey) bool {
	switch {
	case next.AllProperties && !old.AllProperties:
		return true
	case !next.AllProperties && !old.AllProperties:
		for _, id := range next.PropertyIDs {
			if !slices.Contains(old.PropertyIDs, id) {
				return true
			}
		}
	}
	if old.ReadOnly && !next.ReadOnly {
		return true
	}
	if !old.ExpiresAt.IsZero() && (next.ExpiresAt.IsZero() || next.ExpiresAt.After(old.ExpiresAt)) {
		return true
	}
	if len(old.AllowedIPs) == 0 {
		return false
	}
	if len(next.AllowedIPs) == 0 {
		return true
	}
	for _, n := range next.AllowedIPs {
		if !slices.ContainsFunc(old.AllowedIPs, func(o netip.Prefix) bool {
			return o.Bits() <= n.Bits() && o.Contains(n.Addr())
		}) {
			return true
		}
	}
	return false
}

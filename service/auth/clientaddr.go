package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// Metadata the REST gateway adds to every call it relays: its token, and
// the address of the HTTP client it relays for.
const (
	GatewayTokenHeader  = "x-keygate-gateway"
	GatewayClientHeader = "x-keygate-client-ip"
)

// forwardedHeader is the header (and gRPC metadata key) in which proxies
// list the addresses a request passed through, client first.
const forwardedHeader = "x-forwarded-for"

// ClientAddrs decides where calls come from. Failure limits and a key's
// allowed addresses rest on its answer, so it believes nothing a client
// can write itself:
//
//   - a call's address is its TCP peer's;
//   - when that peer is one of the trusted proxies, it is the rightmost
//     X-Forwarded-For hop that is not itself a trusted proxy (the hops to
//     its left were written by the client and prove nothing);
//   - a call relayed by this process's REST gateway, proven by the
//     gateway's token, comes from the address the gateway found for its
//     HTTP client by the same two rules.
//
// The zero value trusts no proxy and no gateway.
type ClientAddrs struct {
	trusted []netip.Prefix
	gateway []byte // SHA-256 of the gateway token; nil: no gateway
}

// NewClientAddrs returns the rules for trusted proxies and a gateway
// token ("" for none).
func NewClientAddrs(trustedProxies []netip.Prefix, gatewayToken string) *ClientAddrs {
	a := &ClientAddrs{}
	for _, p := range trustedProxies {
		a.trusted = append(a.trusted, p.Masked())
	}
	if gatewayToken != "" {
		d := sha256.Sum256([]byte(gatewayToken))
		a.gateway = d[:]
	}
	return a
}

// ParseCIDRs parses a comma-separated list of CIDRs or single addresses,
// such as the value of --trusted-proxies.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an address", f)
			}
			a = a.Unmap().WithZone("")
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ClientAddr returns the address a gRPC call comes from (see ClientAddrs).
// It is the zero Addr when the transport has no IP peer.
func (a *ClientAddrs) ClientAddr(ctx context.Context) netip.Addr {
	if a.fromGateway(ctx) {
		v := metadata.ValueFromIncomingContext(ctx, GatewayClientHeader)
		if len(v) == 1 {
			if addr, err := netip.ParseAddr(v[0]); err == nil {
				return addr
			}
		}
		return netip.Addr{}
	}
	var p netip.Addr
	if pr, ok := peer.FromContext(ctx); ok {
		// Without a string round trip: this runs on every request with a
		// credential.
		if tcp, ok := pr.Addr.(*net.TCPAddr); ok {
			p, _ = netip.AddrFromSlice(tcp.IP)
			p = p.Unmap()
		} else if pr.Addr != nil {
			p = addrOf(pr.Addr.String())
		}
	}
	if len(a.trusted) == 0 {
		return p
	}
	return a.forwarded(p, metadata.ValueFromIncomingContext(ctx, forwardedHeader))
}

// HTTPClientAddr returns the address an HTTP request comes from: its peer
// or, when that is a trusted proxy, what the proxy reports.
func (a *ClientAddrs) HTTPClientAddr(r *http.Request) netip.Addr {
	return a.forwarded(addrOf(r.RemoteAddr), r.Header.Values(forwardedHeader))
}

// fromGateway reports whether a call carries exactly one gateway token,
// and the right one.
func (a *ClientAddrs) fromGateway(ctx context.Context) bool {
	if a.gateway == nil {
		return false
	}
	tok := metadata.ValueFromIncomingContext(ctx, GatewayTokenHeader)
	if len(tok) != 1 {
		return false
	}
	d := sha256.Sum256([]byte(tok[0]))
	return subtle.ConstantTimeCompare(d[:], a.gateway) == 1
}

// forwarded walks X-Forwarded-For from the right, starting at the peer,
// for as long as each hop is a trusted proxy (which vouches for the one
// to its left). A hop that does not parse ends the walk at the proxy that
// wrote it.
func (a *ClientAddrs) forwarded(peerAddr netip.Addr, headers []string) netip.Addr {
	addr := peerAddr
	if !a.isTrusted(addr) {
		return addr
	}
	var hops []string
	for _, h := range headers {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := addrOf(strings.TrimSpace(hops[i]))
		if !hop.IsValid() {
			return addr
		}
		addr = hop
		if !a.isTrusted(addr) {
			return addr
		}
	}
	return addr
}

func (a *ClientAddrs) isTrusted(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range a.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// addrOf parses "ip", "ip:port" or "[ip]:port", without a zone, with
// IPv4-mapped IPv6 addresses as IPv4; the zero Addr when it is none.
func addrOf(s string) netip.Addr {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return addr.Unmap().WithZone("")
}

// addrGroup is the unit of the per-address limits: an IPv4 address, or
// the /64 of an IPv6 one (one subscriber usually holds at least a /64).
// Calls without an IP address share one group.
func addrGroup(addr netip.Addr) netip.Prefix {
	switch {
	case addr.Is4():
		return netip.PrefixFrom(addr, 32)
	case addr.Is6():
		p, _ := addr.Prefix(64)
		return p
	}
	return netip.Prefix{}
}

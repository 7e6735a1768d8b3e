package auth

import (
	"context"
	"net/netip"
	"strings"
	"unicode"

	"google.golang.org/grpc/metadata"
)

// Request is what is known of where a call comes from, for the audit
// trail: its request id, the client address (as the failure limits and
// key policy see it) and the client's user agent.
type Request struct {
	ID        string
	IP        netip.Addr // zero if unknown
	UserAgent string
}

type requestIDKey struct{}
type requestKey struct{}

// WithRequestID returns ctx carrying the request id of the call; the
// server's first interceptor sets it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id of the call, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestFrom returns what the interceptor learned of the call: set for
// every call that may change something (writes and SignIn); reads get only
// the request id.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	r.ID = RequestID(ctx)
	return r
}

// withRequest notes the client address and user agent of a call.
func (i *Interceptor) withRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestKey{}, Request{IP: i.clientAddr(ctx), UserAgent: userAgent(ctx)})
}

// maxUserAgent bounds what the audit trail keeps of a user agent.
const maxUserAgent = 512

// userAgent is the caller's user agent: the REST client's User-Agent
// header (the gateway passes it on) or the gRPC client's, cut to
// maxUserAgent bytes of printable UTF-8.
func userAgent(ctx context.Context) string {
	v := metadata.ValueFromIncomingContext(ctx, "user-agent")
	if len(v) == 0 {
		return ""
	}
	ua := strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(v[0], ""))
	if len(ua) > maxUserAgent {
		ua = strings.ToValidUTF8(ua[:maxUserAgent], "")
	}
	return ua
}

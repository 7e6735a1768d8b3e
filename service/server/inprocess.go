package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// inProcess is the REST gateway's connection to this process's gRPC
// services: a grpc.ClientConnInterface that calls each method's handler
// through the server's own unary interceptor chain, as the gRPC server
// does for a call from the network, but without encoding the messages and
// sending them over a loopback connection.
//
// What a call from the network would see, a call through inProcess sees
// too: the caller's outgoing metadata as incoming metadata, the deadline
// and cancellation of the caller's context, a peer (the HTTP client's
// address, see withHTTPPeer), grpc.SetHeader and grpc.Method, and a
// status error for every failure. Response headers and trailers go back
// through the grpc.Header and grpc.Trailer call options.
//
// Only unary interceptors run: nothing else of the gRPC server (stats
// handlers, tap handles, transport limits) sees these calls. The request
// message is copied before the handler gets it; the response is handed
// over without a deep copy (its fields are shared), which is safe because
// handlers build a fresh response for every call and never touch it after
// returning, and the gateway only reads it.
type inProcess struct {
	interceptor grpc.UnaryServerInterceptor
	methods     map[string]inProcessMethod // by full method name
}

type inProcessMethod struct {
	impl    any
	handler grpc.MethodHandler
}

func newInProcess(interceptor grpc.UnaryServerInterceptor) *inProcess {
	return &inProcess{interceptor: interceptor, methods: map[string]inProcessMethod{}}
}

// RegisterService makes the unary methods of a service callable through c.
func (c *inProcess) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		c.methods["/"+desc.ServiceName+"/"+m.MethodName] = inProcessMethod{impl: impl, handler: m.Handler}
	}
}

// Invoke calls a unary method.
func (c *inProcess) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "%s is not registered for in-process calls", method)
	}
	req, ok1 := args.(proto.Message)
	out, ok2 := reply.(proto.Message)
	if !ok1 || !ok2 {
		return status.Errorf(codes.Internal, "%s: messages are not protobuf messages", method)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	stream := &inProcessStream{method: method}
	sctx := metadata.NewIncomingContext(ctx, md)
	sctx = metadata.NewOutgoingContext(sctx, nil) // the gateway's metadata is not the handler's to send on
	sctx = grpc.NewContextWithServerTransportStream(sctx, stream)
	if p, ok := ctx.Value(httpPeerKey{}).(*peer.Peer); ok {
		sctx = peer.NewContext(sctx, p)
	}
	decode := func(in any) error {
		proto.Merge(in.(proto.Message), req)
		return nil
	}
	resp, err := m.handler(m.impl, sctx, decode, c.interceptor)

	header, trailer := stream.metadata()
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = trailer
		}
	}
	if err != nil {
		// As the gRPC server does: status errors pass as they are, context
		// errors become their codes, anything else UNKNOWN.
		if _, ok := status.FromError(err); !ok {
			err = status.FromContextError(err).Err()
		}
		return err
	}
	r, ok := resp.(proto.Message)
	if !ok || r.ProtoReflect().Descriptor() != out.ProtoReflect().Descriptor() {
		return status.Errorf(codes.Internal, "%s: handler returned %T, want %T", method, resp, reply)
	}
	shallowCopy(out.ProtoReflect(), r.ProtoReflect())
	return nil
}

// NewStream is not supported: the gateway serves no streaming RPC.
func (c *inProcess) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "streaming calls are not served in process")
}

// shallowCopy sets every populated field of dst to src's value, sharing
// nested messages and lists rather than copying them.
func shallowCopy(dst, src protoreflect.Message) {
	src.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(f, v)
		return true
	})
	if u := src.GetUnknown(); len(u) > 0 {
		dst.SetUnknown(u)
	}
}

// inProcessStream is the grpc.ServerTransportStream of an in-process call:
// it collects the headers and trailers the interceptors and handler set.
type inProcessStream struct {
	method string

	mu      sync.Mutex
	header  metadata.MD
	trailer metadata.MD
}

func (s *inProcessStream) Method() string { return s.method }

func (s *inProcessStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.header == nil {
		s.header = md // as given: nobody changes metadata once it is set
	} else {
		s.header = metadata.Join(s.header, md)
	}
	return nil
}

func (s *inProcessStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *inProcessStream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

func (s *inProcessStream) metadata() (header, trailer metadata.MD) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header, s.trailer
}

// httpPeerKey holds the *peer.Peer of the HTTP client whose request the
// gateway relays. Only withHTTPPeer sets it, from the connection's own
// address: nothing a client sends can change it.
type httpPeerKey struct{}

// withHTTPPeer returns r with its client's address as the gRPC peer of
// the in-process calls it leads to.
func withHTTPPeer(r *http.Request) *http.Request {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r
	}
	p := &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)}
	return r.WithContext(context.WithValue(r.Context(), httpPeerKey{}, p))
}

// services registers each service with the gRPC server and with the
// in-process connection of the REST gateway, so that both serve it.
type services struct {
	server *grpc.Server
	local  *inProcess
}

func (s services) RegisterService(desc *grpc.ServiceDesc, impl any) {
	s.server.RegisterService(desc, impl)
	s.local.RegisterService(desc, impl)
}

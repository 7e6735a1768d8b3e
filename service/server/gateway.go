package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
)

// MaxBodyBytes is the largest request body the REST gateway accepts.
const MaxBodyBytes = 1 << 20

// newGateway returns the REST API: grpc-gateway routes that call the gRPC
// services through conn, the in-process connection that runs the gRPC
// server's own interceptor chain, so that REST requests pass through
// exactly the same interceptors as gRPC ones.
func newGateway(ctx context.Context, conn *inProcess, gatewayToken string, addrs *auth.ClientAddrs) (http.Handler, error) {
	mux := runtime.NewServeMux(
		// Who the client is (auth.ClientAddrs); the token tells the server
		// to believe it.
		runtime.WithMetadata(func(_ context.Context, r *http.Request) metadata.MD {
			client := ""
			if a := addrs.HTTPClientAddr(r); a.IsValid() {
				client = a.String()
			}
			return metadata.Pairs(auth.GatewayTokenHeader, gatewayToken, auth.GatewayClientHeader, client)
		}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &jsonBody{}),
		runtime.WithForwardResponseRewriter(envelope),
		// Headers first: createdStatus writes the status line.
		runtime.WithForwardResponseOption(noStoreSecrets),
		runtime.WithForwardResponseOption(createdStatus),
		runtime.WithErrorHandler(writeError),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.SetQueryParameterParser(bracketQueryParser{}),
		runtime.WithDisablePathLengthFallback(),
	)
	for _, err := range []error{
		keygatev1.RegisterAuthServiceHandlerClient(ctx, mux, keygatev1.NewAuthServiceClient(conn)),
		keygatev1.RegisterApiKeyServiceHandlerClient(ctx, mux, keygatev1.NewApiKeyServiceClient(conn)),
		keygatev1.RegisterPropertyServiceHandlerClient(ctx, mux, keygatev1.NewPropertyServiceClient(conn)),
		keygatev1.RegisterPropertyUserServiceHandlerClient(ctx, mux, keygatev1.NewPropertyUserServiceClient(conn)),
		keygatev1.RegisterGroupServiceHandlerClient(ctx, mux, keygatev1.NewGroupServiceClient(conn)),
		keygatev1.RegisterAuditServiceHandlerClient(ctx, mux, keygatev1.NewAuditServiceClient(conn)),
	} {
		if err != nil {
			return nil, err
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, withHTTPPeer(r))
	}), nil
}

// incomingHeader passes the API key, the request id and the user agent
// (for the audit trail) to the services, and no other header: the
// services read no other, and metadata a REST
// client could otherwise set (Grpc-Metadata-…) must not reach them. The
// gateway forwards Authorization by itself.
func incomingHeader(key string) (string, bool) {
	switch {
	case strings.EqualFold(key, auth.APIKeyHeader):
		return auth.APIKeyHeader, true
	case strings.EqualFold(key, requestIDHeader):
		return requestIDHeader, true
	case strings.EqualFold(key, "User-Agent"):
		return "user-agent", true
	}
	return "", false
}

// createdStatus answers 201 to Create* RPCs, and to Roll* RPCs, which
// create a successor.
func createdStatus(_ context.Context, w http.ResponseWriter, resp proto.Message) error {
	if name := string(resp.ProtoReflect().Descriptor().Name()); strings.HasPrefix(name, "Create") || strings.HasPrefix(name, "Roll") {
		w.WriteHeader(http.StatusCreated)
	}
	return nil
}

// noStoreSecrets keeps responses that carry a secret (a session token, a
// new API key; see auth.Secrets) out of every cache.
func noStoreSecrets(_ context.Context, w http.ResponseWriter, resp proto.Message) error {
	if len(auth.Secrets(resp)) > 0 {
		w.Header().Set("Cache-Control", "no-store")
	}
	return nil
}

// bracketQueryParser accepts Channex's bracketed parameters
// (pagination[page]=2, raw or percent-encoded) as the dotted field paths
// grpc-gateway understands (pagination.page=2).
type bracketQueryParser struct{}

var bracketKey = regexp.MustCompile(`\[([A-Za-z0-9_]+)\]`)

func (bracketQueryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	dotted := make(url.Values, len(values))
	for k, v := range values {
		k = bracketKey.ReplaceAllString(k, ".$1")
		dotted[k] = append(dotted[k], v...)
	}
	return (&runtime.DefaultQueryParser{}).Parse(msg, dotted, filter)
}

// restError is the body of every REST error.
type restError struct {
	Errors struct {
		Code    string `json:"code"`
		Title   string `json:"title"`
		Details any    `json:"details"`
	} `json:"errors"`
}

// httpStatus maps gRPC codes onto REST statuses and Channex error codes.
// INVALID_ARGUMENT is 422 when a handler says which fields are at fault
// (a google.rpc.BadRequest detail) and 400 otherwise: the gateway itself
// reports bodies and query parameters it cannot parse that way.
func httpStatus(st *status.Status) (int, string, string) {
	switch st.Code() {
	case codes.InvalidArgument:
		if fieldViolations(st) != nil {
			return http.StatusUnprocessableEntity, "validation_error", "Validation Error"
		}
		return http.StatusBadRequest, "bad_request", "Bad Request"
	case codes.Unauthenticated:
		return http.StatusUnauthorized, "unauthorized", "Unauthorized"
	case codes.PermissionDenied:
		return http.StatusForbidden, "forbidden", "Forbidden"
	case codes.NotFound:
		return http.StatusNotFound, "resource_not_found", "Resource Not Found"
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict, "conflict", "Conflict"
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests, "http_too_many_requests", "Too Many Requests"
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return http.StatusServiceUnavailable, "unavailable", "Service Unavailable"
	}
	return http.StatusInternalServerError, "internal_server_error", "Internal Server Error"
}

func fieldViolations(st *status.Status) map[string][]string {
	var out map[string][]string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if out == nil {
					out = map[string][]string{}
				}
				out[v.GetField()] = append(out[v.GetField()], v.GetDescription())
			}
		}
	}
	return out
}

// writeError writes a gRPC error in the REST error shape.
func writeError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st, ok := status.FromError(err)
	if !ok {
		st = status.New(codes.Internal, "internal error")
	}
	code, name, title := httpStatus(st)
	var wrongTypes map[string][]string
	if c := restCallFrom(r.Context()); c != nil && st.Code() == codes.InvalidArgument {
		wrongTypes = c.violations
	}
	if wrongTypes != nil {
		code, name, title = http.StatusUnprocessableEntity, "validation_error", "Validation Error"
	}
	var body restError
	body.Errors.Code, body.Errors.Title = name, title
	switch {
	case wrongTypes != nil:
		body.Errors.Details = wrongTypes
	case code == http.StatusUnprocessableEntity:
		body.Errors.Details = fieldViolations(st)
	case code == http.StatusInternalServerError:
		body.Errors.Details = "request id " + w.Header().Get(requestIDHeader)
	default:
		body.Errors.Details = st.Message()
	}
	writeJSON(w, code, body)
}

func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed {
		var body restError
		body.Errors.Code, body.Errors.Title, body.Errors.Details = "method_not_allowed", "Method Not Allowed", r.Method+" is not allowed on "+r.URL.Path
		writeJSON(w, httpStatus, body)
		return
	}
	writeError(ctx, mux, m, w, r, status.Error(codes.NotFound, "no such path: "+r.URL.Path))
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// httpMiddleware wraps the whole HTTP server: a request id on every
// response (the same id travels to the gRPC server and its log line), an
// access log line, trailing-slash paths, and the body size limit.
func httpMiddleware(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		r.Header.Set(requestIDHeader, id)
		w.Header().Set(requestIDHeader, id)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		sent := r.URL.RequestURI() // the path as sent, with its query string
		defer func() {
			log.Info("http", "request_id", id, "method", r.Method, "path", sent, "status", rec.code,
				"duration_ms", float64(time.Since(start).Microseconds())/1000)
		}()

		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			r.URL.Path = strings.TrimRight(p, "/")
			r.URL.RawPath = ""
		}
		if r.ContentLength > MaxBodyBytes {
			var body restError
			body.Errors.Code, body.Errors.Title = "payload_too_large", "Payload Too Large"
			body.Errors.Details = "request bodies are limited to 1 MiB"
			writeJSON(rec, http.StatusRequestEntityTooLarge, body)
			return
		}
		if msg := badBytes(r.URL); msg != "" {
			var body restError
			body.Errors.Code, body.Errors.Title, body.Errors.Details = "bad_request", "Bad Request", msg
			writeJSON(rec, http.StatusBadRequest, body)
			return
		}
		// A body without a declared length is cut off at the limit while
		// it is read; the decoder then fails and the answer is 400.
		r.Body = http.MaxBytesReader(rec, r.Body, MaxBodyBytes)
		next.ServeHTTP(rec, withRESTCall(r))
	})
}

// badBytes says what is wrong with a path or query that holds invalid
// UTF-8 or NUL characters once percent-decoded, or that cannot be
// decoded, or returns "". No such request can name anything keygate
// keeps, so it is a 400 before it reaches a handler or a store.
func badBytes(u *url.URL) string {
	if !utf8.ValidString(u.Path) || strings.IndexByte(u.Path, 0) >= 0 {
		return "the path must be UTF-8 without NUL characters"
	}
	values, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "the query string cannot be parsed"
	}
	for k, vs := range values {
		for _, s := range append(vs, k) {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				return "query parameters must be UTF-8 without NUL characters"
			}
		}
	}
	return ""
}

type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

package main

import (
	"context"
	"fmt"
	"google.golang.org/protobuf/proto"
	"io"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/account"
	"github.com/keygate/keygate/service/apikey"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/property"
	"github.com/keygate/keygate/service/server"
	"github.com/keygate/keygate/service/store"
)

const demoEmail = "demo@keygate.test"

// seedDemo creates a demo user with an active subscription, two properties
// and an all-properties key through the services themselves, so the demo
// data passes the same validation as any other, and prints the console's
// address and the secrets to stdout, once. They never go to the log.
func seedDemo(ctx context.Context, st store.Store, srv *server.Server, stdout io.Writer) error {
	password := auth.NewSecret("demo-")[:21]
	u, err := account.NewAdminService(st).CreateUser(ctx, &keygatev1.CreateUserRequest{
		Email:              demoEmail,
		Name:               "Demo Hotelier",
		Password:           password,
		SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
	})
	if err != nil {
		return fmt.Errorf("creating %s (does the database hold demo data already?): %w", demoEmail, err)
	}
	user, err := st.GetUser(ctx, u.GetUser().GetId())
	if err != nil {
		return err
	}
	ctx = auth.WithPrincipal(ctx, &auth.Principal{User: user})
	props := property.New(st)
	for _, p := range []*keygatev1.PropertyInput{
		{Title: proto.String("Harbour View Hotel"), Currency: proto.String("EUR")},
		{Title: proto.String("Old Town Apartments"), Currency: proto.String("GBP")},
	} {
		if _, err := props.CreateProperty(ctx, &keygatev1.CreatePropertyRequest{Property: p}); err != nil {
			return err
		}
	}
	k, err := apikey.New(st).CreateApiKey(ctx, &keygatev1.CreateApiKeyRequest{
		ApiKey: &keygatev1.ApiKeyInput{Name: "demo integration", AllProperties: true},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
keygate demo data (shown once; not logged):
  console   http://%s/
  email     %s
  password  %s
  API key   %s

Try:
  curl -s -H 'user-api-key: %s' http://%s/api/v1/properties
  buf curl --protocol grpc --http2-prior-knowledge -H 'user-api-key: %s' \
    http://%s/keygate.v1.PropertyService/ListProperties
  curl -s -X POST http://%s/api/v1/sign_in -d '{"user":{"email":"%s","password":"%s"}}'

`, server.Dialable(srv.HTTPAddr()), demoEmail, password, k.GetApiKey().GetApiKey(),
		k.GetApiKey().GetApiKey(), server.Dialable(srv.HTTPAddr()),
		k.GetApiKey().GetApiKey(), server.Dialable(srv.GRPCAddr()),
		server.Dialable(srv.HTTPAddr()), demoEmail, password)
	return nil
}

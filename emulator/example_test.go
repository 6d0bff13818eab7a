package emulator_test

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/fleetscore/fleetscore/emulator"
)

// A test or the demo starts the emulator, registers the MSSP's app, consents
// it everywhere and points azidentity and the Graph client at URL().
func Example() {
	e := emulator.New(emulator.Options{
		Seed:    1,
		Tenants: 3,
		Now:     func() time.Time { return time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC) },
	})
	if err := e.Start(); err != nil {
		panic(err)
	}
	defer e.Close()
	e.AddApp(emulator.App{ClientID: "11111111-2222-3333-4444-555555555555", Secrets: []string{"s3cr3t"}})
	e.ConsentAll("11111111-2222-3333-4444-555555555555")

	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.URL() + "/"},
		Transport: e.Client(),
	}
	opts.Retry.MaxRetries = -1
	tenant := e.Tenants()[0].ID
	cred, err := azidentity.NewClientSecretCredential(tenant, "11111111-2222-3333-4444-555555555555", "s3cr3t",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true, AdditionallyAllowedTenants: []string{"*"}})
	if err != nil {
		panic(err)
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err != nil {
		panic(err)
	}
	// The Graph endpoints are e.URL()+"/v1.0/security/secureScores" and
	// e.URL()+"/v1.0/security/secureScoreControlProfiles"; Expected is what they serve.
	scores, _ := e.Expected(tenant)
	fmt.Println(len(scores), "days, newest", scores[len(scores)-1].Day)
	fmt.Println("token requests:", e.Stats(tenant).TokenRequests)
	// Output:
	// 90 days, newest 2026-03-15
	// token requests: 1
}

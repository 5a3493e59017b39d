package credential

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

const (
	testConnID  = "4f6c2a55-8d3e-4c1b-9a0f-1e2d3c4b5a69"
	testProject = "0e6f7a3c-1111-4222-8333-944455556666"
	testPlan    = "1a2b3c4d-1111-4222-8333-944455556666"
	testJob     = "5e6f7a8b-1111-4222-8333-944455556666"
)

func fakeOIDCToken(t *testing.T, exp time.Time) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." +
		enc(map[string]any{"iss": "https://vstoken.dev.azure.com/org-id", "sub": "sc://org/proj/conn", "aud": "api://AzureADTokenExchange", "exp": exp.Unix()}) + ".c2lnbmF0dXJl"
}

func wifConnection() *endpoint.Connection {
	return &endpoint.Connection{ID: testConnID, Scheme: "WorkloadIdentityFederation", TenantID: "tenant-1", ClientID: "client-1"}
}

func TestFederatedTokenFromRequestURI(t *testing.T) {
	token := fakeOIDCToken(t, time.Now().Add(10*time.Minute))
	calls := 0
	ft := &fakeTransport{handle: func(r *http.Request) (*http.Response, error) {
		calls++
		if calls == 1 {
			return reply(503, `{"message":"busy"}`), nil
		}
		return reply(200, `{"oidcToken":"`+token+`"}`), nil
	}}
	var registered []string
	cl, _ := cloud.Resolve(wifConnection())
	cred, err := New(context.Background(), wifConnection(), cl, Options{
		HTTP:     transport.Pipeline{Transport: ft, Retry: policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond}},
		DevOps:   endpoint.DevOps{OIDCRequestURI: "https://dev.azure.com/org/" + testProject + "/_apis/distributedtask/hubs/build/plans/" + testPlan + "/jobs/" + testJob + "/oidctoken", CollectionURI: "https://dev.azure.com/org/", AccessToken: "system-token"},
		OnSecret: func(s string) { registered = append(registered, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{token}, registered); diff != "" {
		t.Errorf("registered secrets (-want +got):\n%s", diff)
	}
	if len(ft.requests) != 2 {
		t.Fatalf("%d requests, want 2 (one 503, retried)", len(ft.requests))
	}
	r := ft.requests[1]
	if got, want := r.URL.Query().Get("api-version"), "7.1"; got != want {
		t.Errorf("api-version %q, want %q", got, want)
	}
	if got := r.URL.Query().Get("serviceConnectionId"); got != testConnID {
		t.Errorf("serviceConnectionId %q", got)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer system-token" {
		t.Errorf("Authorization %q", got)
	}
	if r.Method != http.MethodPost || r.Header.Get("X-TFS-FedAuthRedirect") != "Suppress" {
		t.Errorf("method %s, X-TFS-FedAuthRedirect %q", r.Method, r.Header.Get("X-TFS-FedAuthRedirect"))
	}
	// The subject and issuer come from the token when the connection has none.
	fc := cred.(keepCause).cred.(*federatedCredential)
	if fc.subject != "sc://org/proj/conn" || fc.issuer != "https://vstoken.dev.azure.com/org-id" {
		t.Errorf("subject %q issuer %q", fc.subject, fc.issuer)
	}
}

func TestFederatedTokenFromDistributedTaskAPI(t *testing.T) {
	token := fakeOIDCToken(t, time.Now().Add(10*time.Minute))
	org := "org-dt-route"
	ft := &fakeTransport{handle: func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") != "Bearer system-token" {
			return reply(401, `{"message":"TF400813"}`), nil
		}
		switch {
		case r.Method == http.MethodOptions && r.URL.Path == "/"+org+"/_apis":
			return reply(200, `{"count":1,"value":[{"id":"69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2","area":"distributedtask","resourceName":"oidctoken","routeTemplate":"{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/jobs/{jobId}/{resource}","resourceVersion":1,"minVersion":"7.1","maxVersion":"7.2","releasedVersion":"0.0"}]}`), nil
		case r.Method == http.MethodPost:
			return reply(200, `{"oidcToken":"`+token+`"}`), nil
		}
		return reply(404, `{"message":"no"}`), nil
	}}
	var registered []string
	cl, _ := cloud.Resolve(wifConnection())
	_, err := New(context.Background(), wifConnection(), cl, Options{
		HTTP:     transport.Pipeline{Transport: ft, Retry: policy.RetryOptions{MaxRetries: -1}},
		DevOps:   endpoint.DevOps{CollectionURI: "https://dev.azure.com/" + org + "/", ProjectID: testProject, HostType: "build", PlanID: testPlan, JobID: testJob, AccessToken: "system-token"},
		OnSecret: func(s string) { registered = append(registered, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"OPTIONS https://dev.azure.com/" + org + "/_apis",
		"POST https://dev.azure.com/" + org + "/" + testProject + "/_apis/distributedtask/hubs/build/plans/" + testPlan + "/jobs/" + testJob + "/oidctoken",
	}
	if diff := cmp.Diff(want, ft.seen()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	post := ft.requests[1]
	if got := post.URL.Query().Get("serviceConnectionId"); got != testConnID {
		t.Errorf("serviceConnectionId %q", got)
	}
	if got := post.Header.Get("Accept"); !strings.Contains(got, "api-version=7.1") {
		t.Errorf("Accept %q names no api-version", got)
	}
	if diff := cmp.Diff([]string{token}, registered); diff != "" {
		t.Errorf("registered secrets (-want +got):\n%s", diff)
	}
}

func TestFederatedTokenErrors(t *testing.T) {
	// The job's access token, long enough to be looked for in the errors.
	const jobToken = "job-access-token-5c1f9e2a"
	tests := []struct {
		name       string
		job        endpoint.DevOps
		handle     func(*http.Request) (*http.Response, error)
		wantStatus int
		want       []string
	}{
		{
			name: "access token refused",
			job:  endpoint.DevOps{OIDCRequestURI: "https://dev.azure.com/org/p/_apis/distributedtask/hubs/build/plans/x/jobs/y/oidctoken", CollectionURI: "https://dev.azure.com/org/", AccessToken: jobToken},
			handle: func(*http.Request) (*http.Response, error) {
				return reply(401, `{"message":"TF400813: not authorized"}`), nil
			},
			wantStatus: 401,
			want:       []string{"401: TF400813: not authorized", "access token was refused", "SYSTEM_OIDCREQUESTURI", "POST https://dev.azure.com/org/p/_apis/distributedtask/hubs/build/plans/x/jobs/y/oidctoken)"},
		},
		{
			name:       "connection unknown",
			job:        endpoint.DevOps{OIDCRequestURI: "https://dev.azure.com/org/p/oidctoken", CollectionURI: "https://dev.azure.com/org/", AccessToken: jobToken},
			handle:     func(*http.Request) (*http.Response, error) { return reply(404, `{"message":"not found"}`), nil },
			wantStatus: 404,
			want:       []string{"uses workload identity federation and is authorised"},
		},
		{
			name: "network",
			job:  endpoint.DevOps{OIDCRequestURI: "https://dev.azure.com/org/p/oidctoken", CollectionURI: "https://dev.azure.com/org/", AccessToken: jobToken},
			handle: func(*http.Request) (*http.Response, error) {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
			},
			want: []string{"connection refused"},
		},
		{
			name:   "no route at all",
			job:    endpoint.DevOps{AccessToken: jobToken, ProjectID: "not-a-guid"},
			handle: func(*http.Request) (*http.Response, error) { return nil, errors.New("no request expected") },
			want:   []string{"the distributed task API", "SYSTEM_OIDCREQUESTURI"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl, _ := cloud.Resolve(wifConnection())
			registered := 0
			_, err := New(context.Background(), wifConnection(), cl, Options{
				HTTP:     transport.Pipeline{Transport: &fakeTransport{handle: tt.handle}, Retry: policy.RetryOptions{MaxRetries: -1}},
				DevOps:   tt.job,
				OnSecret: func(string) { registered++ },
			})
			var oe *OIDCError
			if !errors.As(err, &oe) {
				t.Fatalf("error %v, want an OIDCError", err)
			}
			if oe.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", oe.StatusCode, tt.wantStatus)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q\ndoes not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), jobToken) || strings.Contains(err.Error(), "Bearer") || registered != 0 {
				t.Errorf("token material in the error or registered: %q, %d", err, registered)
			}
		})
	}
}

func TestOIDCTokenReusedWhileFresh(t *testing.T) {
	tokens := []string{fakeOIDCToken(t, time.Now().Add(time.Minute)), fakeOIDCToken(t, time.Now().Add(time.Hour))}
	n := 0
	ft := &fakeTransport{handle: func(*http.Request) (*http.Response, error) {
		tok := tokens[min(n, 1)]
		n++
		return reply(200, fmt.Sprintf(`{"oidcToken":%q}`, tok)), nil
	}}
	var registered []string
	src := &oidcSource{connID: testConnID, job: endpoint.DevOps{OIDCRequestURI: "https://dev.azure.com/o/x", AccessToken: "t"}, onToken: func(s string) { registered = append(registered, s) }, logf: func(string) {}}
	src.pl = newTestPipeline(ft)
	for i := 0; i < 3; i++ {
		if _, err := src.assertion(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The first token expires within two minutes, so it is replaced once;
	// the second one is then reused.
	if diff := cmp.Diff(tokens, registered); diff != "" {
		t.Errorf("registered (-want +got):\n%s", diff)
	}
}

// TestRequestURIRefused: a SYSTEM_OIDCREQUESTURI (the job variable
// system.oidcRequestUri, which an earlier step can set) that is not https
// on the host of the job's collection gets no request at all: the job's
// access token would go with it.
func TestRequestURIRefused(t *testing.T) {
	const coll = "https://dev.azure.com/org/"
	refused := func(host string) string {
		return "refused: the job's access token goes there, and it is not an https URL on the host of the collection the job runs in (" + host + "). SYSTEM_OIDCREQUESTURI is the job variable system.oidcRequestUri, which Azure DevOps sets: remove any variable of that name from the pipeline and from the steps before this one"
	}
	tests := []struct {
		name, uri, coll string
		wantURL, want   string
	}{
		{"plain http", "http://dev.azure.com/org/p/oidctoken", coll, "http://dev.azure.com/org/p/oidctoken", refused("dev.azure.com")},
		{"another host", "https://listener.example/org/p/oidctoken", coll, "https://listener.example/org/p/oidctoken", refused("dev.azure.com")},
		{"a host that ends like it", "https://evildev.azure.com/org/p/oidctoken", coll, "https://evildev.azure.com/org/p/oidctoken", refused("dev.azure.com")},
		{"another port", "https://dev.azure.com:8443/org/p/oidctoken", coll, "https://dev.azure.com:8443/org/p/oidctoken", refused("dev.azure.com")},
		{"user info", "https://dev.azure.com@listener.example/org/p/oidctoken", coll, "https://listener.example/org/p/oidctoken", refused("dev.azure.com")},
		{"not a URL", "https://dev.azure.com/%zz", coll, "(unparsable)", refused("dev.azure.com")},
		{"no collection", "https://dev.azure.com/org/p/oidctoken", "", "https://dev.azure.com/org/p/oidctoken", "refused: the agent did not say which collection the job runs in (SYSTEM_COLLECTIONURI), so the job's access token cannot be sent anywhere safely"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &fakeTransport{handle: func(*http.Request) (*http.Response, error) { return reply(200, `{"oidcToken":"x"}`), nil }}
			cl, _ := cloud.Resolve(wifConnection())
			_, err := New(context.Background(), wifConnection(), cl, Options{
				HTTP:   transport.Pipeline{Transport: ft, Retry: policy.RetryOptions{MaxRetries: -1}},
				DevOps: endpoint.DevOps{OIDCRequestURI: tt.uri, CollectionURI: tt.coll, AccessToken: "job-token"},
			})
			want := &OIDCError{ConnectionID: testConnID, Route: "SYSTEM_OIDCREQUESTURI", URL: tt.wantURL, Message: tt.want}
			if diff := cmp.Diff(error(want), err); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if len(ft.requests) != 0 {
				t.Errorf("%d request(s) sent", len(ft.requests))
			}
		})
	}
	// The collection's own host, its port written out or not.
	for _, uri := range []string{"https://dev.azure.com/org/p/oidctoken", "https://DEV.azure.com:443/org/p/oidctoken"} {
		if err := checkRequestURI(testConnID, endpoint.DevOps{OIDCRequestURI: uri, CollectionURI: coll}); err != nil {
			t.Errorf("%s refused: %v", uri, err)
		}
	}
}

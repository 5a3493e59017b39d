// Command fakeaz stands in for the Azure CLI in tests of gokeyvault check.
// Installed on PATH as "az", it answers the one command azidentity's
// AzureCLICredential runs,
//
//	az account get-access-token -o json --resource RESOURCE [--tenant TENANT]
//
// as az 2.x does, with a real token from a local cloud's Entra ID: a client
// credentials request for the service principal in
// $AZURE_CONFIG_DIR/fakeaz.json ({"tenant", "clientId", "clientSecret"}),
// through HTTPS_PROXY, trusting SSL_CERT_FILE. It appends each command line
// to $AZURE_CONFIG_DIR/fakeaz.log. Without fakeaz.json it answers as az
// does when no one is signed in.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv("AZURE_CONFIG_DIR"), os.Stdout, os.Stderr))
}

// account is the signed-in service principal.
type account struct {
	Tenant       string `json:"tenant"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

func run(args []string, dir string, stdout, stderr io.Writer) int {
	if dir == "" {
		fmt.Fprintln(stderr, "ERROR: fakeaz needs AZURE_CONFIG_DIR")
		return 1
	}
	if f, err := os.OpenFile(filepath.Join(dir, "fakeaz.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintln(f, strings.Join(args, " "))
		f.Close()
	}
	resource, tenant, err := parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return 2
	}
	b, err := os.ReadFile(filepath.Join(dir, "fakeaz.json"))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stderr, "ERROR: Please run 'az login' to setup account.")
		return 1
	}
	var a account
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: read fakeaz.json: %v\n", err)
		return 1
	}
	if tenant == "" {
		tenant = a.Tenant
	}
	tok, expires, err := token(a, tenant, resource)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return 1
	}
	out, _ := json.MarshalIndent(map[string]any{
		"accessToken":  tok,
		"expiresOn":    expires.Local().Format("2006-01-02 15:04:05.000000"),
		"expires_on":   expires.Unix(),
		"subscription": "c0ffee00-1111-2222-3333-444455556666",
		"tenant":       tenant,
		"tokenType":    "Bearer",
	}, "", "  ")
	fmt.Fprintln(stdout, string(out))
	return 0
}

// parse accepts exactly what AzureCLICredential asks.
func parse(args []string) (resource, tenant string, err error) {
	if len(args) < 6 || strings.Join(args[:4], " ") != "account get-access-token -o json" || args[4] != "--resource" {
		return "", "", fmt.Errorf("fakeaz answers only 'account get-access-token -o json --resource R [--tenant T]', not %q", strings.Join(args, " "))
	}
	resource = args[5]
	switch rest := args[6:]; {
	case len(rest) == 0:
	case len(rest) == 2 && rest[0] == "--tenant":
		tenant = rest[1]
	default:
		return "", "", fmt.Errorf("unrecognized arguments: %s", strings.Join(rest, " "))
	}
	return resource, tenant, nil
}

// token asks Entra ID for a token for resource, with the client credentials
// grant, as the signed-in account.
func token(a account, tenant, resource string) (string, time.Time, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {a.ClientID},
		"client_secret": {a.ClientSecret},
		"scope":         {strings.TrimSuffix(resource, "/") + "/.default"},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.PostForm("https://login.microsoftonline.com/"+url.PathEscape(tenant)+"/oauth2/v2.0/token", form)
	if err != nil {
		return "", time.Time{}, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", time.Time{}, fmt.Errorf("token reply: %v", err)
	}
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("%s", body.Description)
	}
	return body.AccessToken, time.Now().Add(time.Duration(body.ExpiresIn) * time.Second), nil
}

package localcloud

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as a SHA-1 thumbprint
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// tokenExchangeAudience is the audience Entra requires in federated tokens.
const tokenExchangeAudience = "api://AzureADTokenExchange"

// federatedCredential is one federated identity credential of an app.
type federatedCredential struct{ issuer, subject string }

// AddCertApp registers a service principal whose credential is cert: its
// token requests must carry a client assertion (a JWT signed RS256 or PS256
// with the certificate's key, naming it by x5t or x5t#S256), which is
// verified against cert. The tenant becomes known. It replaces any
// credential the app had.
func (c *Cloud) AddCertApp(tenantID, clientID string, cert *x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := strings.ToLower(tenantID)
	c.tenants[t] = true
	c.apps[appKey{t, strings.ToLower(clientID)}] = &app{cert: cert}
}

// AddFederatedApp registers a service principal, or adds to it, a federated
// identity credential trusting tokens from issuer about subject with the
// audience api://AzureADTokenExchange, as an Azure DevOps workload identity
// federation connection sets up. Tokens must be signed by this cloud's Azure
// DevOps (EnableDevOps). The tenant becomes known.
func (c *Cloud) AddFederatedApp(tenantID, clientID, issuer, subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := strings.ToLower(tenantID)
	c.tenants[t] = true
	k := appKey{t, strings.ToLower(clientID)}
	a := c.apps[k]
	if a == nil {
		a = &app{}
		c.apps[k] = a
	}
	a.federated = append(append([]federatedCredential(nil), a.federated...), federatedCredential{issuer: issuer, subject: subject})
}

// checkAssertion validates a client_assertion the way Entra does for a
// certificate credential (issuer = subject = client id) or a federated
// credential (any other issuer). It writes Entra's error and returns false
// when the assertion is not acceptable.
func (c *Cloud) checkAssertion(w http.ResponseWriter, r *http.Request, host, clientID string, a *app) bool {
	form := r.PostForm
	fail := func(status int, code string, aadsts int, desc string) bool {
		entraError(w, r, host, status, code, aadsts, desc)
		return false
	}
	if t := form.Get("client_assertion_type"); t != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return fail(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_assertion_type'.")
	}
	jwt, err := parseJWT(form.Get("client_assertion"))
	if err != nil {
		return fail(http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed.")
	}
	now := time.Now()
	if jwt.claims.Issuer == clientID && jwt.claims.Subject == clientID {
		if a.cert == nil {
			return fail(http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", jwt.thumbprintHex(), clientID))
		}
		if !jwt.namesCert(a.cert) {
			return fail(http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf("Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", jwt.thumbprintHex(), clientID))
		}
		pub, ok := a.cert.PublicKey.(*rsa.PublicKey)
		if !ok || jwt.verify(pub) != nil {
			return fail(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]")
		}
		// The audience is the token endpoint the assertion was made for.
		if want := "https://" + host + r.URL.Path; !jwt.claims.hasAudience(want) {
			return fail(http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf("Client assertion contains an invalid audience. Expected '%s'.", want))
		}
		if !jwt.claims.validAt(now) {
			return fail(http.StatusUnauthorized, "invalid_client", 700024, "Client assertion is not within its valid time range.")
		}
		return true
	}

	// A federated token: issued by Azure DevOps for a pipeline.
	c.mu.Lock()
	var key *rsa.PublicKey
	if d := c.ext.devops; d != nil {
		key = &d.key.PublicKey
	}
	c.mu.Unlock()
	if key == nil || jwt.header.Alg != "RS256" || jwt.verify(key) != nil {
		return fail(http.StatusBadRequest, "invalid_request", 700211, fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion.", jwt.claims.Issuer))
	}
	if !jwt.claims.validAt(now) {
		return fail(http.StatusBadRequest, "invalid_request", 700024, "Client assertion is not within its valid time range.")
	}
	if !jwt.claims.hasAudience(tokenExchangeAudience) {
		return fail(http.StatusBadRequest, "invalid_request", 700212, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'.", strings.Join(jwt.claims.Audience, ", ")))
	}
	issuerKnown := false
	for _, f := range a.federated {
		if f.issuer == jwt.claims.Issuer {
			issuerKnown = true
			if f.subject == jwt.claims.Subject {
				return true
			}
		}
	}
	if issuerKnown {
		return fail(http.StatusBadRequest, "invalid_request", 700213, fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion.", jwt.claims.Subject))
	}
	return fail(http.StatusBadRequest, "invalid_request", 70021, fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation", jwt.claims.Issuer, jwt.claims.Subject, strings.Join(jwt.claims.Audience, ", ")))
}

// jwtHeader is the part of a JOSE header Entra looks at.
type jwtHeader struct {
	Alg     string   `json:"alg"`
	Typ     string   `json:"typ,omitempty"`
	Kid     string   `json:"kid,omitempty"`
	X5t     string   `json:"x5t,omitempty"`
	X5tS256 string   `json:"x5t#S256,omitempty"`
	X5c     []string `json:"x5c,omitempty"`
}

type jwtClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud"`
	Expires   int64    `json:"exp"`
	NotBefore int64    `json:"nbf,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	ID        string   `json:"jti,omitempty"`
}

// audience is "aud": a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// clockSkew is the leeway Entra allows on exp and nbf.
const clockSkew = 5 * time.Minute

func (c jwtClaims) validAt(now time.Time) bool {
	if c.Expires == 0 || now.After(time.Unix(c.Expires, 0).Add(clockSkew)) {
		return false
	}
	return c.NotBefore == 0 || !now.Add(clockSkew).Before(time.Unix(c.NotBefore, 0))
}

func (c jwtClaims) hasAudience(want string) bool {
	for _, a := range c.Audience {
		if strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(want, "/")) {
			return true
		}
	}
	return false
}

type parsedJWT struct {
	header       jwtHeader
	claims       jwtClaims
	signingInput []byte
	signature    []byte
}

func parseJWT(s string) (*parsedJWT, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	j := &parsedJWT{signingInput: []byte(parts[0] + "." + parts[1]), signature: sig}
	if err := json.Unmarshal(hb, &j.header); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(cb, &j.claims); err != nil {
		return nil, err
	}
	return j, nil
}

func (j *parsedJWT) verify(pub *rsa.PublicKey) error {
	sum := sha256.Sum256(j.signingInput)
	switch j.header.Alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], j.signature)
	case "PS256":
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], j.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	default:
		return fmt.Errorf("unsupported alg %q", j.header.Alg)
	}
}

// namesCert checks the x5t#S256 (PS256, Entra) or x5t (RS256, AD FS)
// thumbprint against cert. Both base64 alphabets occur in the wild.
func (j *parsedJWT) namesCert(cert *x509.Certificate) bool {
	if j.header.X5tS256 != "" {
		sum := sha256.Sum256(cert.Raw)
		return bytes.Equal(decodeThumbprint(j.header.X5tS256), sum[:])
	}
	if j.header.X5t != "" {
		sum := sha1.Sum(cert.Raw) //nolint:gosec // thumbprint, not a signature
		return bytes.Equal(decodeThumbprint(j.header.X5t), sum[:])
	}
	return false
}

func (j *parsedJWT) thumbprintHex() string {
	t := j.header.X5tS256
	if t == "" {
		t = j.header.X5t
	}
	return strings.ToUpper(fmt.Sprintf("%x", decodeThumbprint(t)))
}

func decodeThumbprint(s string) []byte {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

// signJWT issues an RS256 JWT, as Azure DevOps signs its OIDC tokens.
func signJWT(key *rsa.PrivateKey, kid string, claims jwtClaims) (string, error) {
	hb, err := json.Marshal(jwtHeader{Alg: "RS256", Typ: "JWT", Kid: kid})
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

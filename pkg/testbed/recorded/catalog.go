// The recording files by what they show, and the certificate recordings by kind.

package recorded

// The files, by what the test bed uses them for.
const (
	// Challenge2026 is Key Vault's 401 challenge of June 2026 (tenant
	// 72f988bf-86f1-41af-91ab-2d7cd011db47, the test world's).
	Challenge2026 = "challenge-2026.json"
	// SecretPlain is a plain secret's get (2022), entry 2 of the file.
	SecretPlain      = "go-azsecrets-v0.7.0-TestSetGetSecret.json"
	SecretPlainEntry = 2
	// SecretContentType is a get of a secret with contentType text/plain (2025).
	SecretContentType = "secret-contenttype-2025.json"
	// SecretTaggedNotYetValid is a get of a secret with a contentType, a
	// tag and nbf 2030-01-01 (2023), entry 2 of the file.
	SecretTaggedNotYetValid      = "go-azsecrets-v0.12.0-TestCRUD.json"
	SecretTaggedNotYetValidEntry = 2
	// SecretExpired is a get of a secret with exp 2026-07-15 (June 2026).
	SecretExpired = "secret-expired-2026.json"
	// SecretDisabled is a get of a disabled secret: 403 SecretDisabled (2024).
	SecretDisabled = "secret-disabled-2024.json"
	// SecretMissing is a get of a secret that does not exist: 404
	// SecretNotFound (2023), entry 6 of the file.
	SecretMissing      = "go-azsecrets-v0.12.0-TestRecover.json"
	SecretMissingEntry = 6
	// ListPaged is a listing with maxresults=1 that pages through five
	// nextLinks carrying ":443", a literal $skiptoken and maxresults (2023),
	// entries 5 to 9 of the file.
	ListPaged      = "go-azsecrets-v0.12.0-TestListSecrets.json"
	ListPagedFirst = 5
	ListPagedLast  = 9
	// ListDisabled2026 is a listing without maxresults (June 2026): a
	// disabled secret with a contentType, then empty pages whose nextLink
	// still continues (skiptoken sanitized by the recorder), then
	// "nextLink": null.
	ListDisabled2026 = "list-disabled-2026.json"
	// ListManagedDisabled is a one-page listing (2023) whose first item is a
	// disabled certificate's secret: contentType, "managed": true, nbf, exp.
	ListManagedDisabled = "list-managed-disabled-2023.json"
)

// Certificate is a recording of a Key Vault certificate's secret.
type Certificate struct {
	File        string // its secret get is the file's one successful secret get
	Key         string // "RSA 2048", "EC P-256", "EC P-384", "EC P-521", "EC P-256K"
	ContentType string // application/x-pkcs12 or application/x-pem-file
	// Exportable is the certificate policy's key_props.exportable: false
	// means Key Vault's secret holds the certificate alone.
	Exportable bool
}

// PFX and PEM are the two content types of a certificate's secret.
const (
	PFX = "application/x-pkcs12"
	PEM = "application/x-pem-file"
)

// Certificates lists the certificate recordings: every key type Key Vault
// makes, in both content types, and a certificate whose key is not
// exportable in both.
func Certificates() []Certificate {
	return []Certificate{
		{"cert-rsa-pkcs12.json", "RSA 2048", PFX, true},
		{"cert-rsa-pem.json", "RSA 2048", PEM, true},
		{"cert-rsa-nonexportable-pkcs12.json", "RSA 2048", PFX, false},
		{"cert-rsa-nonexportable-pem.json", "RSA 2048", PEM, false},
		{"cert-ec-p256-pkcs12.json", "EC P-256", PFX, true},
		{"cert-ec-p256-pem.json", "EC P-256", PEM, true},
		{"cert-ec-p384-pkcs12.json", "EC P-384", PFX, true},
		{"cert-ec-p384-pem.json", "EC P-384", PEM, true},
		{"cert-ec-p521-pkcs12.json", "EC P-521", PFX, true},
		{"cert-ec-p521-pem.json", "EC P-521", PEM, true},
		{"cert-ec-p256k-pkcs12.json", "EC P-256K", PFX, true},
		{"cert-ec-p256k-pem.json", "EC P-256K", PEM, true},
	}
}

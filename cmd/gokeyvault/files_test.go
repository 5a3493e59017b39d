package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// SecretsToFiles end to end: the task folder writes Key Vault certificates
// and keys to files a later step can use, converted as asked, under the
// agent's temp directory, 0600 (the harness checks where and how every
// file is kept, and that no value reaches the log).

const (
	pkcs12Type = "application/x-pkcs12"
	pemType    = "application/x-pem-file"
)

// certs is a key, its certificate and the CA that issued it, in a
// directory openssl works in (k.pem, leaf.pem, ca.pem).
type certs struct {
	dir      string
	key      *rsa.PrivateKey
	leaf, ca *x509.Certificate
}

func newCerts(t *testing.T) *certs {
	t.Helper()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c := &certs{dir: t.TempDir(), key: key}
	c.ca = newCert(t, "Test CA", caKey.Public(), nil, caKey)
	c.leaf = newCert(t, "signing.example", key.Public(), c.ca, caKey)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{"k.pem": {Type: "PRIVATE KEY", Bytes: der}, "leaf.pem": {Type: "CERTIFICATE", Bytes: c.leaf.Raw}, "ca.pem": {Type: "CERTIFICATE", Bytes: c.ca.Raw}} {
		if err := os.WriteFile(filepath.Join(c.dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func newCert(t *testing.T, name string, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if parent == nil {
		tmpl.IsCA, tmpl.KeyUsage = true, tmpl.KeyUsage|x509.KeyUsageCertSign
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// openssl runs the real openssl in the directory; the tests do not pass
// by skipping when it is missing.
func (c *certs) openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = c.dir
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out.Bytes()
}

// pfx makes a PFX without password as OpenSSL 3 does by default (AES,
// PBKDF2) or, legacy, as OpenSSL 1.x did (3DES and RC2-40, SHA-1 MAC).
func (c *certs) pfx(t *testing.T, legacy bool) []byte {
	t.Helper()
	args := []string{"pkcs12", "-export", "-inkey", "k.pem", "-in", "leaf.pem", "-certfile", "ca.pem", "-passout", "pass:", "-out", "out.pfx"}
	if legacy {
		args = append(args, "-legacy")
	}
	c.openssl(t, args...)
	b, err := os.ReadFile(filepath.Join(c.dir, "out.pfx"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyVaultPEM is the certificate as Key Vault stores a PEM one: the key,
// then the chain, leaf first.
func (c *certs) keyVaultPEM(t *testing.T) string {
	var b strings.Builder
	for _, name := range []string{"k.pem", "leaf.pem", "ca.pem"} {
		p, err := os.ReadFile(filepath.Join(c.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(p)
	}
	return b.String()
}

// bundle is what a certificate file holds, comparable with cmp.
type bundle struct {
	Blocks []string // PEM block types in order; nil for a PFX
	Key    crypto.PublicKey
	Certs  []string // subjects, leaf first
}

func (c *certs) want(blocks ...string) bundle {
	return bundle{Blocks: blocks, Key: c.key.Public(), Certs: []string{"signing.example", "Test CA"}}
}

func readPEM(t *testing.T, b []byte) bundle {
	t.Helper()
	var out bundle
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return out
		}
		out.Blocks = append(out.Blocks, block.Type)
		switch block.Type {
		case "PRIVATE KEY":
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			out.Key = key.(crypto.Signer).Public()
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			out.Certs = append(out.Certs, cert.Subject.CommonName)
		}
	}
}

func readPFX(t *testing.T, b []byte) bundle {
	t.Helper()
	key, leaf, cas, err := pkcs12.DecodeChain(b, "")
	if err != nil {
		t.Fatalf("the PFX does not decode with an empty password: %v", err)
	}
	out := bundle{Key: key.(crypto.Signer).Public(), Certs: []string{leaf.Subject.CommonName}}
	for _, ca := range cas {
		out.Certs = append(out.Certs, ca.Subject.CommonName)
	}
	return out
}

// TestSecretsToFiles: PFX secrets of both openssl kinds written as PFX
// (Key Vault's bytes exactly) and as PEM, a PEM certificate written as a
// PFX that openssl reads, an SSH key as its bytes, a secret named in both
// inputs fetched once and used for both, and a value that is not what its
// content type says failing its entry alone with certformat's message.
func TestSecretsToFiles(t *testing.T) {
	// Two certificates: the PEM one is also a variable, whose lines the
	// masker knows already; the PFX one's PEM lines it learns only from
	// the files.
	c, other := newCerts(t), newCerts(t)
	modern, legacy := c.pfx(t, false), c.pfx(t, true)
	sshKey := "-----BEGIN OPENSSH PRIVATE KEY-----\n" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k3y"), 40)) + "\n-----END OPENSSH PRIVATE KEY-----\n"
	w := newWorld(t)
	for _, s := range []localcloud.Secret{
		{Name: "modern-pfx", Value: base64.StdEncoding.EncodeToString(modern), ContentType: pkcs12Type},
		{Name: "modern-pem", Value: base64.StdEncoding.EncodeToString(modern), ContentType: pkcs12Type},
		{Name: "legacy-pfx", Value: base64.StdEncoding.EncodeToString(legacy), ContentType: pkcs12Type},
		{Name: "legacy-pem", Value: base64.StdEncoding.EncodeToString(legacy), ContentType: pkcs12Type},
		{Name: "tls-pem", Value: other.keyVaultPEM(t), ContentType: pemType},
		{Name: "ssh-key", Value: sshKey},
		{Name: "bad-cert", Value: "not a PFX, and not base64 either", ContentType: pkcs12Type},
		{Name: "db-password", Value: "v-db-password"},
	} {
		w.Vault.Put(s)
	}

	res := w.Run(step{Filter: "db-password, tls-pem", Inputs: map[string]string{"SecretsToFiles": "modern-pfx, modern-pem as pem, legacy-pfx as PFX\nlegacy-pem as pem, tls-pem as pfx, ssh-key, bad-cert"}})

	harness.FailedWith(t, res, "SecretsToFiles entry 'bad-cert': secret bad-cert (content type application/x-pkcs12) cannot be written as pfx: the value is not base64 (a PFX must be base64-encoded, as Key Vault stores certificates). No file was written")
	harness.MustContain(t, res.Log[len(res.Log)-1], "1 of 7 file(s) could not be written")
	files := map[string][]byte{}
	for name, v := range res.Variables {
		if base, ok := strings.CutSuffix(name, ".file"); ok {
			rel, _ := filepath.Rel(res.TempDir, v.Value)
			files[base] = res.Temp[rel].Data
			if filepath.Base(v.Value) != map[string]string{"modern-pfx": "modern-pfx.pfx", "modern-pem": "modern-pem.pem", "legacy-pfx": "legacy-pfx.pfx", "legacy-pem": "legacy-pem.pem", "tls-pem": "tls-pem.pfx", "ssh-key": "ssh-key"}[base] {
				t.Errorf("%s = %s: not the secret's name and its format's extension", name, v.Value)
			}
		}
	}
	checkFiles(t, c, other, files, map[string][]byte{"modern-pfx": modern, "legacy-pfx": legacy, "ssh-key": []byte(sshKey)})
	harness.Succeeded(t, &agentrunner.Result{Result: "Succeeded", Variables: res.Variables}, map[string]string{"db-password": "v-db-password", "tls-pem": other.keyVaultPEM(t)})
	if n := testworld.SecretGets(w.Vault)["tls-pem"]; n != 1 {
		t.Errorf("tls-pem, in both inputs, fetched %d times", n)
	}
	checkFilesStayOut(t, res, files)
}

// checkFiles checks what each file holds: exact bytes where the value is
// written as it is, the key and chain where it was converted (c's for the
// PFX secrets, pem's for the PEM one).
func checkFiles(t *testing.T, c, pem *certs, got map[string][]byte, exact map[string][]byte) {
	t.Helper()
	names := []string{}
	for n := range got {
		names = append(names, n)
	}
	if diff := cmp.Diff([]string{"legacy-pem", "legacy-pfx", "modern-pem", "modern-pfx", "ssh-key", "tls-pem"}, sorted(names)); diff != "" {
		t.Fatalf("files written (-want +got):\n%s", diff)
	}
	for n, want := range exact {
		if !bytes.Equal(got[n], want) {
			t.Errorf("%s: %d bytes, not the %d bytes of the value", n, len(got[n]), len(want))
		}
	}
	for _, n := range []string{"modern-pem", "legacy-pem"} {
		if diff := cmp.Diff(c.want("PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"), readPEM(t, got[n])); diff != "" {
			t.Errorf("%s (-want +got):\n%s", n, diff)
		}
	}
	if diff := cmp.Diff(pem.want(), readPFX(t, got["tls-pem"])); diff != "" {
		t.Errorf("tls-pem as pfx (-want +got):\n%s", diff)
	}
	// openssl 3, without -legacy, reads the PFX written from a PEM: the
	// key and both certificates come out.
	if err := os.WriteFile(filepath.Join(pem.dir, "written.pfx"), got["tls-pem"], 0o600); err != nil {
		t.Fatal(err)
	}
	out := pem.openssl(t, "pkcs12", "-in", "written.pfx", "-passin", "pass:", "-nodes")
	if diff := cmp.Diff(pem.want("CERTIFICATE", "CERTIFICATE", "PRIVATE KEY"), readPEM(t, out)); diff != "" {
		t.Errorf("openssl pkcs12 -in tls-pem.pfx (-want +got):\n%s", diff)
	}
}

// checkFilesStayOut checks that no file's content is in the log, and that
// a later step that prints a file the task converted (its lines are not
// the value's) would show them masked.
func checkFilesStayOut(t *testing.T, res *agentrunner.Result, files map[string][]byte) {
	t.Helper()
	var contents []string
	for _, b := range files {
		contents = append(contents, string(b))
	}
	harness.CheckNoValueLeaks(t, res, contents)
	for _, name := range []string{"modern-pem", "legacy-pem"} {
		for i, line := range strings.Split(string(files[name]), "\n") {
			if strings.HasPrefix(line, "-----") || line == "" {
				continue // the armour is not secret, and short lines are not masked
			}
			if got := res.MaskLater(line); strings.Contains(got, line) {
				t.Errorf("line %d of %s (%d bytes) would be printed unmasked by a later step", i, name, len(line))
			}
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestSecretsToFilesBeforeTheJob: with RunAsPreJob and an empty filter,
// the pre-job run writes the file and sets only its variable, for every
// step of the job; the step run does nothing.
func TestSecretsToFilesBeforeTheJob(t *testing.T) {
	w := newWorld(t)
	w.Put(map[string]string{"deploy-key": "v-deploy-key", "other": "v-other"})
	in := map[string]string{"SecretsFilter": "", "SecretsToFiles": "deploy-key"}

	pre := w.Run(step{Stage: agentrunner.StagePreJob, PreJob: "true", Inputs: in})
	main := w.Run(step{PreJob: "true", Inputs: in})

	if pre.Result != "Succeeded" || main.Result != "Skipped" {
		t.Fatalf("results %s (pre-job), %s (step); log:\n%s", pre.Result, main.Result, strings.Join(pre.Log, "\n"))
	}
	v := pre.Variables["deploy-key.file"]
	rel, _ := filepath.Rel(pre.TempDir, v.Value)
	if len(pre.Variables) != 1 || v.Secret || string(pre.Temp[rel].Data) != "v-deploy-key" {
		t.Errorf("variables %v; want deploy-key.file alone, naming a file with the value", pre.Variables)
	}
	if len(main.TempFiles) != 0 || len(main.Variables) != 0 {
		t.Errorf("the skipped step wrote %v and set %v", main.TempFiles, main.Variables)
	}
}

// TestSecretsToFilesWindowsDevice: a file named after a Windows device
// (CON, NUL, COM1..., any case, any extension) would be written to the
// device on a Windows agent: refused on every agent, before any request,
// with what to do.
func TestSecretsToFilesWindowsDevice(t *testing.T) {
	w := newWorld(t)
	w.Put(map[string]string{"nul": "v-nul"})

	res := w.Run(step{Inputs: map[string]string{"SecretsFilter": "", "SecretsToFiles": "nul as pem"}})

	harness.FailedWith(t, res, `input SecretsToFiles entry "nul as pem": a secret named nul cannot be written to a file: Windows reserves that name, with any extension and in any case, for a device (CON, PRN, AUX, NUL, COM0 to COM9, LPT0 to LPT9), so a Windows agent would write to the device, not a file. Copy the secret to another name in the vault and name that one here`)
	if got := w.Cloud.ProxyLog(); len(got) != 0 {
		t.Errorf("requests were made before the entry was refused: %v", got)
	}
}

// TestMaskingOfFilesAsDocumented pins what the README says the masker
// knows of a file and what it does not, as a later step printing the file
// would see it: the value as Key Vault stores it (a PFX's base64 on one
// line, which base64 -w 0 prints) and each line of a PEM the task
// converted are masked; a re-encoding (base64 -w 76, what base64 prints
// by default) is not, and with SYSTEM_DONOTMASKMULTILINESECRETS=true the
// converted PEM's lines are not either.
func TestMaskingOfFilesAsDocumented(t *testing.T) {
	c := newCerts(t)
	pfx := c.pfx(t, false)
	value := base64.StdEncoding.EncodeToString(pfx)
	for _, noLines := range []bool{false, true} {
		t.Run(fmt.Sprint("SYSTEM_DONOTMASKMULTILINESECRETS ", noLines), func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "cert-pfx", Value: value, ContentType: pkcs12Type})
			w.Vault.Put(localcloud.Secret{Name: "cert-pem", Value: value, ContentType: pkcs12Type})
			vars := map[string]agentrunner.Variable{}
			if noLines {
				vars["SYSTEM_DONOTMASKMULTILINESECRETS"] = agentrunner.Variable{Value: "true"}
			}

			res := w.Run(step{Variables: vars, Inputs: map[string]string{"SecretsFilter": "", "SecretsToFiles": "cert-pfx, cert-pem as pem"}})

			if res.Result != "Succeeded" {
				t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			masked := func(line string) bool { return !strings.Contains(res.MaskLater(line), line) }
			if !masked(value) {
				t.Errorf("base64 -w 0 of the PFX file is printed unmasked")
			}
			wrapped := 0
			for i := 0; i+76 < len(value); i += 76 {
				if !masked(value[i : i+76]) {
					wrapped++
				}
			}
			if wrapped == 0 {
				t.Errorf("every line of base64 -w 76 of the PFX file is masked: the README says they are not")
			}
			rel, _ := filepath.Rel(res.TempDir, res.Variables["cert-pem.file"].Value)
			pemLines := 0
			for _, line := range strings.Split(string(res.Temp[rel].Data), "\n") {
				if strings.HasPrefix(line, "-----") || line == "" {
					continue
				}
				if masked(line) == noLines {
					t.Errorf("a line of the PEM file the task converted is masked: %v, want %v", masked(line), !noLines)
				}
				pemLines++
			}
			if pemLines < 10 {
				t.Fatalf("the PEM file has %d lines", pemLines)
			}
		})
	}
}

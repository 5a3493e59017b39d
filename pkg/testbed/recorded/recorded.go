// Package recorded holds real Key Vault exchanges: requests the Azure SDKs
// made to the live service and Key Vault's responses, kept from the SDKs'
// public (MIT-licensed) test recordings. testdata/README.md names the
// source, commit or module version of every file and the entries kept.
//
// An Exchange is one recorded entry, typed: method, URL, status, response
// headers and the response body as Key Vault sent it. The recordings store
// each body as parsed JSON, so Body is that JSON re-encoded the way Key
// Vault writes it (compact, in recorded key order, strings with JSON's
// minimal escapes); for every kept entry its length is the recorded
// Content-Length, which the package test checks.
//
// Nothing here is rewritten: a server that serves these exchanges rewrites
// the recorded vault host to its own (BodyFor) and nothing else.
package recorded

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

//go:embed testdata/*.json
var testdata embed.FS

// Exchange is one recorded request and Key Vault's response to it.
type Exchange struct {
	File   string // the testdata file, e.g. "cert-rsa-pkcs12.json"
	Entry  int    // its index in the file's Entries
	Method string
	URL    *url.URL    // as recorded, with the api-version of the day
	Status int         // the response status
	Header http.Header // the response headers as recorded
	// Body is the response body as Key Vault sent it; nil when the
	// recording holds none.
	Body []byte
}

// entry is a recording file's entry as the Azure SDK test proxy writes it.
type entry struct {
	RequestURI      string            `json:"RequestUri"`
	RequestMethod   string            `json:"RequestMethod"`
	StatusCode      int               `json:"StatusCode"`
	ResponseHeaders map[string]string `json:"ResponseHeaders"`
	ResponseBody    json.RawMessage   `json:"ResponseBody"`
}

// Files lists the recording files, sorted.
func Files() []string {
	des, err := testdata.ReadDir("testdata")
	if err != nil {
		panic(fmt.Sprintf("recorded: read the embedded testdata: %v", err))
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	sort.Strings(names)
	return names
}

// Open reads the exchanges of one recording file.
func Open(file string) ([]Exchange, error) {
	raw, err := testdata.ReadFile(path.Join("testdata", file))
	if err != nil {
		return nil, fmt.Errorf("open recording %s: %w", file, err)
	}
	var rec struct{ Entries []entry }
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("parse recording %s: %w", file, err)
	}
	out := make([]Exchange, 0, len(rec.Entries))
	for i, e := range rec.Entries {
		x, err := exchangeOf(e)
		if err != nil {
			return nil, fmt.Errorf("recording %s entry %d: %w", file, i, err)
		}
		x.File, x.Entry = file, i
		out = append(out, x)
	}
	return out, nil
}

// MustOpen is Open for the embedded files, whose parsing the package test
// checks: a failure is a broken test bed, not a test's outcome.
func MustOpen(file string) []Exchange {
	xs, err := Open(file)
	if err != nil {
		panic(err)
	}
	return xs
}

// MustEntry returns entry i of file.
func MustEntry(file string, i int) Exchange {
	xs := MustOpen(file)
	if i < 0 || i >= len(xs) {
		panic(fmt.Sprintf("recorded: %s has %d entries, no entry %d", file, len(xs), i))
	}
	return xs[i]
}

func exchangeOf(e entry) (Exchange, error) {
	u, err := url.Parse(e.RequestURI)
	if err != nil {
		return Exchange{}, fmt.Errorf("request URI: %w", err)
	}
	h := http.Header{}
	for k, v := range e.ResponseHeaders {
		h.Set(k, v)
	}
	x := Exchange{Method: e.RequestMethod, URL: u, Status: e.StatusCode, Header: h}
	if len(e.ResponseBody) > 0 && string(e.ResponseBody) != "null" {
		if x.Body, err = wireJSON(e.ResponseBody); err != nil {
			return Exchange{}, fmt.Errorf("response body: %w", err)
		}
	}
	return x, nil
}

// SecretGet returns the one successful GET of a secret
// (/secrets/<name>[/<version>]) in file.
func SecretGet(file string) (Exchange, error) {
	xs, err := Open(file)
	if err != nil {
		return Exchange{}, err
	}
	var found []Exchange
	for _, x := range xs {
		if _, _, ok := x.SecretPath(); ok && x.Method == http.MethodGet && x.Status == http.StatusOK {
			found = append(found, x)
		}
	}
	if len(found) != 1 {
		return Exchange{}, fmt.Errorf("recording %s holds %d successful secret gets, want 1", file, len(found))
	}
	return found[0], nil
}

// MustSecretGet is SecretGet for the embedded files.
func MustSecretGet(file string) Exchange {
	x, err := SecretGet(file)
	if err != nil {
		panic(err)
	}
	return x
}

// SecretPath parses the request path /secrets/<name>[/<version>][/]; ok is
// false for any other path (a list, a key, a certificate).
func (x Exchange) SecretPath() (name, version string, ok bool) {
	segs := strings.Split(strings.Trim(x.URL.Path, "/"), "/")
	if len(segs) < 2 || len(segs) > 3 || segs[0] != "secrets" || segs[1] == "" {
		return "", "", false
	}
	if len(segs) == 3 {
		version = segs[2]
	}
	return segs[1], version, true
}

// IsList reports whether the request lists secrets (GET /secrets[/]).
func (x Exchange) IsList() bool {
	return x.Method == http.MethodGet && strings.Trim(x.URL.Path, "/") == "secrets"
}

// Value returns the secret value the response carries, if any.
func (x Exchange) Value() (string, bool) {
	var b struct{ Value *string }
	if json.Unmarshal(x.Body, &b) != nil || b.Value == nil {
		return "", false
	}
	return *b.Value, true
}

// ContentType returns the contentType of a secret the response carries.
func (x Exchange) ContentType() string {
	var b struct{ ContentType string }
	_ = json.Unmarshal(x.Body, &b)
	return b.ContentType
}

// hostInURL matches the host of an absolute https URL inside a body.
var hostInURL = regexp.MustCompile(`https://([A-Za-z0-9.-]+)`)

// Hosts lists the vault hosts the exchange names: the request's and those
// of the URLs in its body (ids, kids, nextLinks). They differ where the
// recorder sanitized the request host but not the body.
func (x Exchange) Hosts() []string {
	seen := map[string]bool{x.URL.Hostname(): true}
	for _, m := range hostInURL.FindAllSubmatch(x.Body, -1) {
		h := string(m[1])
		if isVaultHost(h, x.URL.Hostname()) {
			seen[h] = true
		}
	}
	hosts := make([]string, 0, len(seen))
	for h := range seen {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}

// isVaultHost tells a vault's host from other hosts a body may name (an
// error message's help link).
func isVaultHost(h, requestHost string) bool {
	return strings.EqualFold(h, requestHost) || strings.HasSuffix(strings.ToLower(h), ".vault.azure.net")
}

// BodyFor returns Body with every recorded vault host (Hosts) replaced by
// host, in ids and nextLinks alike; a recorded port (":443") stays.
func (x Exchange) BodyFor(host string) []byte {
	b := x.Body
	for _, h := range x.Hosts() {
		b = bytes.ReplaceAll(b, []byte("https://"+h+"/"), []byte("https://"+host+"/"))
		b = bytes.ReplaceAll(b, []byte("https://"+h+":"), []byte("https://"+host+":"))
	}
	return b
}

// ContentLength is the recorded Content-Length, or -1.
func (x Exchange) ContentLength() int {
	n, err := strconv.Atoi(x.Header.Get("Content-Length"))
	if err != nil {
		return -1
	}
	return n
}

// wireJSON re-encodes recorded JSON the way Key Vault writes it: compact,
// keys in their recorded order, numbers as recorded, strings with only the
// escapes JSON requires. (json.Compact would keep the recorder's \u002B.)
func wireJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out bytes.Buffer
	if err := copyValue(dec, &out); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return out.Bytes(), nil
}

func copyValue(dec *json.Decoder, out *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		return copyComposite(dec, out, t)
	case string:
		writeString(out, t)
	case json.Number:
		out.WriteString(t.String())
	case bool:
		out.WriteString(strconv.FormatBool(t))
	case nil:
		out.WriteString("null")
	}
	return nil
}

func copyComposite(dec *json.Decoder, out *bytes.Buffer, open json.Delim) error {
	out.WriteRune(rune(open))
	for i := 0; dec.More(); i++ {
		if i > 0 {
			out.WriteByte(',')
		}
		if open == '{' {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			writeString(out, key.(string))
			out.WriteByte(':')
		}
		if err := copyValue(dec, out); err != nil {
			return err
		}
	}
	end, err := dec.Token()
	if err != nil {
		return err
	}
	out.WriteRune(rune(end.(json.Delim)))
	return nil
}

// writeString writes s as a JSON string with the escapes JSON requires
// (quote, backslash, control characters) and nothing else.
func writeString(out *bytes.Buffer, s string) {
	out.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			out.WriteByte('\\')
			out.WriteRune(r)
		case r == '\n':
			out.WriteString(`\n`)
		case r == '\r':
			out.WriteString(`\r`)
		case r == '\t':
			out.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(out, `\u%04x`, r)
		case r == utf8.RuneError:
			out.WriteString(`\ufffd`)
		default:
			out.WriteRune(r)
		}
	}
	out.WriteByte('"')
}

// ListItems returns the items of a recorded list page, each as Key Vault
// sent it.
func (x Exchange) ListItems() ([][]byte, error) {
	var page struct{ Value []json.RawMessage }
	if err := json.Unmarshal(x.Body, &page); err != nil {
		return nil, fmt.Errorf("list page %s entry %d: %w", x.File, x.Entry, err)
	}
	items := make([][]byte, len(page.Value))
	for i, it := range page.Value {
		items[i] = []byte(it)
	}
	return items, nil
}

// ItemID returns the id of a list item (or of any body with an id) as a
// URL: its host is the vault's, its path /secrets/<name>.
func ItemID(item []byte) (*url.URL, error) {
	var it struct{ ID string }
	if err := json.Unmarshal(item, &it); err != nil {
		return nil, fmt.Errorf("list item: %w", err)
	}
	u, err := url.Parse(it.ID)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("list item id %q is not a URL", it.ID)
	}
	return u, nil
}

// ListItem derives, from a recorded get of a secret, the item a listing
// shows for it: the get's fields in their order without "value" and "kid",
// the id without its version. Key Vault's own list items have that shape
// (list-managed-disabled-2023.json shows a certificate's: contentType, id,
// managed, attributes); the item is derived, not recorded.
func (x Exchange) ListItem() ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(x.Body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("secret get %s entry %d: the body is not a JSON object", x.File, x.Entry)
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("secret get %s entry %d: %w", x.File, x.Entry, err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("secret get %s entry %d: %w", x.File, x.Entry, err)
		}
		k := key.(string)
		switch k {
		case "value", "kid":
			continue
		case "id":
			var id string
			if err := json.Unmarshal(raw, &id); err != nil {
				return nil, fmt.Errorf("secret get %s entry %d: id: %w", x.File, x.Entry, err)
			}
			if i := strings.Index(id, "/secrets/"); i >= 0 && strings.Count(id[i+len("/secrets/"):], "/") == 1 {
				id = id[:strings.LastIndex(id, "/")]
			}
			var b bytes.Buffer
			writeString(&b, id)
			raw = b.Bytes()
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		writeString(&out, k)
		out.WriteByte(':')
		out.Write(raw)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

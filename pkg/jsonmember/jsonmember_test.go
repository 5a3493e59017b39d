package jsonmember

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, err string
		indexed bool
	}{
		{in: "password"},
		{in: "a.b-c.D_9"},
		{in: "hosts[0]", indexed: true},
		{in: "replicas[12].host", indexed: true},
		{in: "", err: `member path "": a member name is empty (names are letters, digits, '_' and '-')`},
		{in: "a.", err: `member path "a.": a member name is empty`},
		{in: "a..b", err: `member path "a..b": a member name is empty`},
		{in: "[0]", err: `member path "[0]": a member name is empty`},
		{in: "a[]", err: `member path "a[]": [] is not an array index (a whole number, as in [0])`},
		{in: "a[01]", err: `[01] is not an array index`},
		{in: "a[-1]", err: `[-1] is not an array index`},
		{in: "a[x]", err: `[x] is not an array index`},
		{in: "a[1000000]", err: `[1000000] is beyond any array a secret can hold`},
		{in: "a[0", err: `member path "a[0": '[' without its ']'`},
		{in: "a b", err: `member path "a b": " " follows a member, not '.' or '['`},
		{in: "a.b c", err: `" " follows a member`},
		{in: "pässword", err: `member path "pässword": "ä" follows a member, not '.' or '['`},
		{in: "db.ä", err: `member path "db.ä": character 'ä' is not allowed in a member name (letters, digits, '_' and '-')`},
		{in: "a.b c", err: `" " follows a member`},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Parse(%q): %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Parse(%q) error %v, want it to contain %q", tt.in, err, tt.err)
		case err == nil && (p.String() != tt.in || p.Indexed() != tt.indexed):
			t.Errorf("Parse(%q) = %q indexed %v", tt.in, p, p.Indexed())
		}
	}
}

// TestFind: a string member is its string, any other its compact JSON
// text as the value writes it; what is not there says where, and no error
// quotes the value.
func TestFind(t *testing.T) {
	const doc = `{
  "user": "app",
  "password": "p@ss \"w\" \u00e9;%0A",
  "port": 5432.50,
  "tls": true,
  "none": null,
  "db": {"host": "db1", "opts": {"ssl": "on"}},
  "hosts": ["h0", {"name": "h1", "tags": ["a", "b"]}],
  "nested": { "z": 1,  "a": [ 1, 2 ] },
  "html": "<b>&</b>"
}`
	tests := []struct{ path, want, err string }{
		{path: "user", want: "app"},
		{path: "password", want: "p@ss \"w\" é;%0A"},
		{path: "port", want: "5432.50"},
		{path: "tls", want: "true"},
		{path: "none", want: "null"},
		{path: "db.host", want: "db1"},
		{path: "db.opts", want: `{"ssl":"on"}`},
		{path: "hosts[0]", want: "h0"},
		{path: "hosts[1].tags[1]", want: "b"},
		{path: "nested", want: `{"z":1,"a":[1,2]}`},
		{path: "html", want: "<b>&</b>"},
		{path: "missing", err: "the value has no member missing"},
		{path: "db.port", err: "db has no member port"},
		{path: "user.x", err: "user is a string, not an object with member x"},
		{path: "hosts[2]", err: "hosts has no element [2] (it has 2)"},
		{path: "db[0]", err: "db is an object, not an array"},
	}
	for _, tt := range tests {
		p, err := Parse(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Find(doc)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("Find(%s) = %q, %v; want %q", tt.path, got, err, tt.want)
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("Find(%s) error %v, want %q", tt.path, err, tt.err)
		}
	}
	p, _ := Parse("a")
	for value, want := range map[string]string{
		`not json "secret-bytes"`: "the value is not JSON: a member entry reads a secret whose value is a JSON object",
		`["secret-bytes"]`:        "the value is JSON, but an array, not an object",
		`"secret-bytes"`:          "the value is JSON, but a string, not an object",
		``:                        "the value is not JSON: a member entry reads a secret whose value is a JSON object",
	} {
		_, err := p.Find(value)
		if err == nil || err.Error() != want {
			t.Errorf("Find in %q: %v, want %q", value, err, want)
		}
	}
}

// FuzzFind: whatever the path and the value, no panic, and no error holds
// any 12 bytes of the value.
func FuzzFind(f *testing.F) {
	f.Add("a.b[0]", `{"a":{"b":["SECRETSECRET"]}}`)
	f.Add("x", `{"x":"SECRETSECRET"`)
	f.Add("a[1]", `{"a":[1]}`)
	f.Fuzz(func(t *testing.T, path, value string) {
		p, err := Parse(path)
		if err != nil {
			return
		}
		if _, err := p.Find(value); err != nil {
			for i := 0; i+12 <= len(value); i++ {
				if strings.Contains(err.Error(), value[i:i+12]) && !strings.Contains(path, value[i:i+12]) {
					t.Fatalf("error %q quotes the value at %d", err, i)
				}
			}
		}
		if _, err := p.Find(`{"k":"SECRETSECRET","a":["SECRETSECRET"]}`); err != nil && strings.Contains(err.Error(), "SECRETSECRET") {
			t.Fatalf("error %q quotes the value", err)
		}
	})
}

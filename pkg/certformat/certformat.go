// Package certformat turns a Key Vault secret's value into the bytes of a
// file a pipeline step can use: the value unchanged, a PEM file (the private
// key, then the certificate chain, leaf first), or a PKCS#12 (PFX) file with
// no password.
//
// Key Vault keeps a certificate's key and chain in a secret of the same name,
// as a base64 PFX (content type application/x-pkcs12) or as PEM
// (application/x-pem-file), whichever the certificate's policy chose; a step
// needs one particular form, whatever the policy said.
//
// Keys and certificates move between the forms as bytes (pkg/pfx reads
// and writes the PFX container), so that every key type Key Vault makes
// converts, P-256K's too, whose explicit curve parameters crypto/x509
// cannot parse. crypto/x509 is used where it can parse: to find the
// certificate that matches the key, and to turn PKCS#1 and SEC1 keys into
// PKCS#8.
//
// A certificate whose key Key Vault may not export is stored without it;
// such a value converts to a file with the certificate alone, and
// File.NoKey says so.
//
// Values are secrets. No error from this package holds any byte of one, which
// is why errors from the parsers it uses (encoding/pem, crypto/x509) are
// replaced by its own words rather than wrapped: some of theirs quote what
// they failed to parse.
package certformat

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Format is the form of a file written from a secret.
type Format string

const (
	Raw Format = "raw" // the value's bytes, unchanged
	PEM Format = "pem" // PEM: the private key, then the certificate chain, leaf first
	PFX Format = "pfx" // PKCS#12 bytes, no password
)

// The content types Key Vault gives a certificate's secret.
const (
	pkcs12ContentType = "application/x-pkcs12"
	pemContentType    = "application/x-pem-file"
)

// ParseFormat accepts "raw", "pem", "pfx" in any case; error otherwise naming the allowed ones.
func ParseFormat(s string) (Format, error) {
	// Surrounding spaces are forgiven: they come from YAML and task inputs,
	// not from a wish for another format.
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case Raw, PEM, PFX:
		return f, nil
	}
	return "", unknownFormat(s)
}

func unknownFormat(s string) error {
	return fmt.Errorf("unknown file format %q: use raw, pem or pfx", s)
}

// Default is the format a content type implies: application/x-pkcs12 -> PFX,
// application/x-pem-file -> PEM, anything else -> Raw (compare content types
// case-insensitively, ignore parameters like "; charset=").
func Default(contentType string) Format {
	// Cut rather than mime.ParseMediaType: a content type is free text set by
	// whoever stored the secret, and a malformed parameter must not hide the
	// media type before it.
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	switch {
	case strings.EqualFold(mediaType, pkcs12ContentType):
		return PFX
	case strings.EqualFold(mediaType, pemContentType):
		return PEM
	}
	return Raw
}

// File is the content of a file made from a secret's value.
type File struct {
	Data []byte
	// NoKey: the value is a certificate without its private key, as Key
	// Vault stores a certificate whose key is not exportable, so the file
	// holds the certificate alone. Raw files are not looked into.
	NoKey bool
}

// Convert returns the file for a secret value of the given content type
// in format f. ctx stops the key derivations a PFX asks for.
func Convert(ctx context.Context, value, contentType string, f Format) (File, error) {
	switch f {
	case Raw:
		return File{Data: []byte(value)}, nil
	case PEM, PFX:
	default:
		return File{}, unknownFormat(string(f))
	}
	switch Default(contentType) {
	case PFX:
		return fromBase64PFX(ctx, value, f)
	case PEM:
		return fromPEM(value, f)
	}
	return fromUnlabelled(ctx, value, f)
}

// fromUnlabelled converts a value whose content type does not say it is a
// certificate: secrets set by hand or by scripts often hold one anyway.
func fromUnlabelled(ctx context.Context, value string, f Format) (File, error) {
	// "-" is not in the base64 alphabet, so a value with a BEGIN line can
	// only be PEM, and PEM's own errors say more than "neither".
	if strings.Contains(value, "-----BEGIN") {
		return fromPEM(value, f)
	}
	der, err := decodeBase64(value)
	if err != nil {
		return File{}, errors.New("the value is neither PEM nor a base64 PFX")
	}
	b, err := decodePFX(ctx, der)
	if err != nil {
		var pe pfxError
		if !errors.As(err, &pe) || pe.isPFX {
			return File{}, err
		}
		return File{}, fmt.Errorf("the value is neither PEM nor a base64 PFX (it is base64, %d bytes decoded, but not a PKCS#12 file)", len(der))
	}
	return fromPFX(der, b, f)
}

package pfx

import (
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// file is a PFX as parsed before any key is derived.
type file struct {
	authSafe []byte   // the AuthenticatedSafe's DER, which the MAC covers
	mac      *macData // nil: the file has none
	items    []item
}

// item is a part of the authenticated safe: bags in the clear, or an
// encrypted SafeContents.
type item struct {
	bags []bag
	enc  *encrypted
}

type encrypted struct {
	spec cipherSpec
	data []byte
}

// bag is a SafeBag this package uses: a key in the clear, an encrypted
// key, or an X.509 certificate. Other bags (CRLs, secrets, other kinds of
// certificate) are skipped.
type bag struct {
	keyID []byte
	key   []byte     // a keyBag's PKCS#8
	enc   *encrypted // a pkcs8ShroudedKeyBag's
	cert  []byte     // a certBag's DER
}

// parse reads the PFX's structure (RFC 7292 section 4) and every part it
// can read without a key.
func parse(der []byte) (*file, error) {
	input := cryptobyte.String(der)
	var pdu, authSafe cryptobyte.String
	var version int64
	if !input.ReadASN1(&pdu, cbasn1.SEQUENCE) || !input.Empty() || !pdu.ReadASN1Integer(&version) {
		return nil, errStructure
	}
	if version != 3 {
		return nil, refuse(Unsupported, "can only decode v3 PFX PDU's")
	}
	content, kind, ok := readContentInfo(&pdu)
	if !ok {
		return nil, errStructure
	}
	if kind != dataContent {
		// signedData: integrity from a public key, not a password.
		return nil, refuse(Unsupported, "only password-protected PFX is implemented")
	}
	if !content.ReadASN1(&authSafe, cbasn1.OCTET_STRING) || !content.Empty() {
		return nil, errStructure
	}
	f := &file{authSafe: authSafe}
	if !pdu.Empty() {
		mac, err := parseMAC(&pdu)
		if err != nil {
			return nil, err
		}
		f.mac = &mac
	}
	if !pdu.Empty() {
		return nil, errStructure
	}
	return f, f.parseItems(authSafe)
}

// contentKind is the type of a ContentInfo this package meets.
type contentKind int

const (
	otherContent contentKind = iota
	dataContent
	encryptedContent
)

// readContentInfo reads a ContentInfo whose content is there: its type and
// the content inside its [0].
func readContentInfo(s *cryptobyte.String) (content cryptobyte.String, kind contentKind, ok bool) {
	var seq cryptobyte.String
	var typ asn1.ObjectIdentifier
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&typ) ||
		!seq.ReadASN1(&content, explicit0) || !seq.Empty() {
		return nil, otherContent, false
	}
	switch {
	case typ.Equal(oidData):
		return content, dataContent, true
	case typ.Equal(oidEncryptedData):
		return content, encryptedContent, true
	}
	return content, otherContent, true
}

// parseItems reads the AuthenticatedSafe: a SEQUENCE OF ContentInfo.
func (f *file) parseItems(der []byte) error {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return errStructure
	}
	bags := 0
	for !seq.Empty() {
		if len(f.items) == maxItems {
			return errParts
		}
		content, kind, ok := readContentInfo(&seq)
		switch {
		case !ok:
			return errStructure
		case kind == dataContent:
			var safe cryptobyte.String
			if !content.ReadASN1(&safe, cbasn1.OCTET_STRING) || !content.Empty() {
				return errStructure
			}
			b, err := parseSafeContents(safe, &bags)
			if err != nil {
				return err
			}
			f.items = append(f.items, item{bags: b})
		case kind == encryptedContent:
			enc, err := parseEncryptedData(content)
			if err != nil {
				return err
			}
			f.items = append(f.items, item{enc: enc})
		default:
			// envelopedData: privacy from a public key, not a password.
			return refuse(Unsupported, "only data and encryptedData content types are supported in authenticated safe")
		}
	}
	return nil
}

// parseEncryptedData reads an EncryptedData (PKCS#7 version 0) whose
// content is data.
func parseEncryptedData(content cryptobyte.String) (*encrypted, error) {
	var ed, eci cryptobyte.String
	var version int64
	var contentType asn1.ObjectIdentifier
	if !content.ReadASN1(&ed, cbasn1.SEQUENCE) || !content.Empty() || !ed.ReadASN1Integer(&version) ||
		!ed.ReadASN1(&eci, cbasn1.SEQUENCE) || !ed.Empty() || !eci.ReadASN1ObjectIdentifier(&contentType) {
		return nil, errStructure
	}
	if version != 0 {
		return nil, refuse(Unsupported, "only version 0 of EncryptedData is supported")
	}
	alg, ok := readAlgorithm(&eci)
	if !ok || !contentType.Equal(oidData) {
		return nil, errStructure
	}
	var data []byte
	if !eci.ReadASN1Bytes(&data, implicit0) || !eci.Empty() {
		return nil, refuse(Malformed, "an encrypted part of it is empty or not in DER's one-piece form")
	}
	spec, err := parseCipher(alg)
	if err != nil {
		return nil, err
	}
	return &encrypted{spec: spec, data: data}, nil
}

// parseSafeContents reads a SEQUENCE OF SafeBag, adding to the count of
// bags so far.
func parseSafeContents(der []byte, count *int) ([]bag, error) {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, errStructure
	}
	var bags []bag
	for !seq.Empty() {
		if *count++; *count > maxBags {
			return nil, errParts
		}
		b, use, err := parseBag(&seq)
		if err != nil {
			return nil, err
		}
		if use {
			bags = append(bags, b)
		}
	}
	return bags, nil
}

// parseBag reads a SafeBag; use is false for a bag of a kind skipped.
func parseBag(s *cryptobyte.String) (b bag, use bool, err error) {
	var seq, value cryptobyte.String
	var typ asn1.ObjectIdentifier
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&typ) || !seq.ReadASN1(&value, explicit0) {
		return b, false, errStructure
	}
	if b.keyID, err = readAttributes(seq); err != nil {
		return b, false, err
	}
	switch {
	case typ.Equal(oidKeyBag):
		b.key = value
		return b, true, nil
	case typ.Equal(oidShroudedKeyBag):
		b.enc, err = parseEncryptedKey(value)
		return b, err == nil, err
	case typ.Equal(oidCertBag):
		b.cert, err = parseCertBag(value)
		return b, b.cert != nil, err
	case typ.Equal(oidSafeContentsBag):
		return b, false, refuse(Unsupported, "it nests safe contents in a bag, which this task does not read")
	}
	return b, false, nil
}

// readAttributes reads a bag's SET OF PKCS12Attribute, if any, and returns
// its localKeyID.
func readAttributes(s cryptobyte.String) ([]byte, error) {
	if s.Empty() {
		return nil, nil
	}
	var set cryptobyte.String
	if !s.ReadASN1(&set, cbasn1.SET) || !s.Empty() {
		return nil, errStructure
	}
	var keyID []byte
	for !set.Empty() {
		var attr, values cryptobyte.String
		var typ asn1.ObjectIdentifier
		if !set.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&typ) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return nil, errStructure
		}
		if typ.Equal(oidLocalKeyID) && (!values.ReadASN1Bytes(&keyID, cbasn1.OCTET_STRING) || !values.Empty()) {
			return nil, errStructure
		}
	}
	return keyID, nil
}

// parseEncryptedKey reads an EncryptedPrivateKeyInfo.
func parseEncryptedKey(value cryptobyte.String) (*encrypted, error) {
	var seq cryptobyte.String
	var data []byte
	if !value.ReadASN1(&seq, cbasn1.SEQUENCE) || !value.Empty() {
		return nil, errStructure
	}
	alg, ok := readAlgorithm(&seq)
	if !ok || !seq.ReadASN1Bytes(&data, cbasn1.OCTET_STRING) || !seq.Empty() {
		return nil, errStructure
	}
	spec, err := parseCipher(alg)
	if err != nil {
		return nil, err
	}
	return &encrypted{spec: spec, data: data}, nil
}

// parseCertBag reads a CertBag: an X.509 certificate's DER, or nil for
// another kind of certificate.
func parseCertBag(value cryptobyte.String) ([]byte, error) {
	var seq, wrapped cryptobyte.String
	var typ asn1.ObjectIdentifier
	var der []byte
	if !value.ReadASN1(&seq, cbasn1.SEQUENCE) || !value.Empty() || !seq.ReadASN1ObjectIdentifier(&typ) ||
		!seq.ReadASN1(&wrapped, explicit0) || !seq.Empty() {
		return nil, errStructure
	}
	if !typ.Equal(oidX509Certificate) {
		return nil, nil
	}
	if !wrapped.ReadASN1Bytes(&der, cbasn1.OCTET_STRING) || !wrapped.Empty() || !isSequence(der) {
		return nil, refuse(Malformed, "a certificate in it is not DER")
	}
	return der, nil
}

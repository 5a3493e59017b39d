package pfx

// cost is the work of reading the file with the right password at the
// first try, checked before any work is done.
func (f *file) cost() int64 {
	var total int64
	if f.mac != nil {
		total += f.mac.cost()
	}
	for _, it := range f.items {
		if it.enc != nil {
			total += it.enc.spec.cost()
		}
		for _, b := range it.bags {
			if b.enc != nil {
				total += b.enc.spec.cost()
			}
		}
	}
	return total
}

// verifyMAC checks the MAC with both forms of the empty password, and
// returns the forms in the order to decrypt with: the MAC's first, since
// files use one password for all. A file without a MAC has nothing to
// check (go-pkcs12 and OpenSSL read those too).
func (f *file) verifyMAC(m *meter) (forms [][]byte, verified bool, err error) {
	if f.mac == nil {
		return [][]byte{terminator, zeroLength}, true, nil
	}
	tries := [][]byte{zeroLength, terminator}
	if !f.mac.usesBMP() {
		tries = tries[:1]
	}
	for _, pw := range tries {
		ok, err := f.mac.verify(m, pw, f.authSafe)
		if err != nil {
			return nil, false, err
		}
		if ok {
			return preferring(pw), true, nil
		}
	}
	return [][]byte{zeroLength, terminator}, false, nil
}

func preferring(pw []byte) [][]byte {
	if len(pw) == 0 {
		return [][]byte{zeroLength, terminator}
	}
	return [][]byte{terminator, zeroLength}
}

// contents decrypts what is encrypted and collects the keys and
// certificates, in the file's order.
func (f *file) contents(m *meter, forms [][]byte) (Contents, error) {
	var c Contents
	bags := 0
	for _, it := range f.items {
		bags += len(it.bags)
	}
	for _, it := range f.items {
		list := it.bags
		if it.enc != nil {
			plain, err := open(m, it.enc, &forms, "a part of it does not decrypt with the empty password")
			if err != nil {
				return Contents{}, err
			}
			if list, err = parseSafeContents(plain, &bags); err != nil {
				return Contents{}, err
			}
		}
		for _, b := range list {
			if err := c.add(m, b, &forms); err != nil {
				return Contents{}, err
			}
		}
	}
	return c, nil
}

func (c *Contents) add(m *meter, b bag, forms *[][]byte) error {
	switch {
	case b.cert != nil:
		c.Certs = append(c.Certs, Cert{DER: b.cert, LocalKeyID: b.keyID})
	case b.key != nil:
		if !isSequence(b.key) {
			return refuse(Malformed, "its private key is not DER")
		}
		c.Keys = append(c.Keys, Key{PKCS8: b.key, LocalKeyID: b.keyID})
	case b.enc != nil:
		key, err := open(m, b.enc, forms, "its private key does not decrypt with the empty password")
		if err != nil {
			return err
		}
		c.Keys = append(c.Keys, Key{PKCS8: key, LocalKeyID: b.keyID})
	}
	return nil
}

// open decrypts enc with the forms of the empty password in turn, until
// one gives a DER SEQUENCE (a SafeContents, a PrivateKeyInfo); the one
// that did is tried first from then on.
func open(m *meter, enc *encrypted, forms *[][]byte, reason string) ([]byte, error) {
	tries := *forms
	if !enc.spec.usesBMP() {
		tries = tries[:1]
	}
	for i, pw := range tries {
		plain, ok, err := enc.spec.decrypt(m, pw, enc.data)
		if err != nil {
			return nil, err
		}
		if ok && isSequence(plain) {
			if i > 0 {
				*forms = preferring(pw)
			}
			return plain, nil
		}
	}
	return nil, refuse(Undecryptable, reason)
}

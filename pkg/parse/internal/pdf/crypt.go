package pdf

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
)

// passwordPadding is the password padding of the standard security handler.
const passwordPadding = "\x28\xBF\x4E\x5E\x4E\x75\x8A\x41\x64\x00\x4E\x56\xFF\xFA\x01\x08\x2E\x2E\x00\xB6\xD0\x68\x3E\x80\x2F\x0C\xA9\xFE\x64\x53\x69\x7A"

// decrypter decrypts strings and streams of a file protected by the standard
// security handler, opened with the empty user password. Files that only restrict
// permissions (copy, print) use one; files that need a password to open do not
// open with it, and are reported as encrypted.
type decrypter struct {
	key    []byte
	stmAES bool
	strAES bool
	stmID  bool // identity: streams are not encrypted
	strID  bool
	v5     bool // AES-256: the file key is used as is
	encRef ref
}

// setupCrypt prepares decryption. It returns an *Error of KindEncrypted when the
// empty user password does not open the file.
func (d *doc) setupCrypt() error {
	encV := d.trailer["Encrypt"]
	if encV == nil {
		return nil
	}
	enc, _ := d.resolve(encV).(dict)
	if enc == nil {
		return errorf(KindEncrypted, "the PDF is encrypted in a way we cannot read")
	}
	if f, _ := enc["Filter"].(name); f != "Standard" {
		return errorf(KindEncrypted, "the PDF is encrypted with the %q security handler", f)
	}
	v, _ := toInt(enc["V"])
	r, _ := toInt(enc["R"])
	o, _ := enc["O"].(str)
	u, _ := enc["U"].(str)
	p, _ := toInt(enc["P"])
	c := &decrypter{}
	if ref, ok := encV.(ref); ok {
		c.encRef = ref
	}
	// Crypt filters (V 4 and 5) choose RC4 or AES for strings and streams.
	method := func(filter name) (aes, identity bool) {
		if filter == "Identity" {
			return false, true
		}
		cf, _ := d.resolve(enc["CF"]).(dict)
		f, _ := d.resolve(cf[filter]).(dict)
		switch f["CFM"] {
		case name("AESV2"), name("AESV3"):
			return true, false
		case name("None"):
			return false, true
		}
		return false, false
	}
	if v >= 4 {
		stmF, _ := enc["StmF"].(name)
		strF, _ := enc["StrF"].(name)
		if stmF == "" {
			stmF = "Identity"
		}
		if strF == "" {
			strF = "Identity"
		}
		c.stmAES, c.stmID = method(stmF)
		c.strAES, c.strID = method(strF)
	}
	switch {
	case r >= 5:
		key, ok := fileKeyV5(enc, r, u)
		if !ok {
			return errorf(KindEncrypted, "the PDF needs a password to open")
		}
		c.key, c.v5 = key, true
	default:
		n := 5
		if l, ok := toInt(enc["Length"]); ok && r >= 3 && l >= 40 && l <= 128 {
			n = l / 8
		}
		var id0 []byte
		if ids, ok := d.resolve(d.trailer["ID"]).(array); ok && len(ids) > 0 {
			id0, _ = ids[0].(str)
		}
		meta := true
		if b, ok := enc["EncryptMetadata"].(bool); ok {
			meta = b
		}
		key := fileKeyR4(o, int32(p), id0, r, n, meta)
		if !checkUserKey(key, u, id0, r) {
			return errorf(KindEncrypted, "the PDF needs a password to open")
		}
		c.key = key
	}
	d.crypt = c
	return nil
}

// fileKeyR4 computes the file key from the empty user password (Algorithm 2).
func fileKeyR4(o []byte, p int32, id0 []byte, r, n int, encryptMeta bool) []byte {
	h := md5.New()
	h.Write([]byte(passwordPadding))
	h.Write(o)
	var pb [4]byte
	binary.LittleEndian.PutUint32(pb[:], uint32(p))
	h.Write(pb[:])
	h.Write(id0)
	if r >= 4 && !encryptMeta {
		h.Write([]byte{0xFF, 0xFF, 0xFF, 0xFF})
	}
	key := h.Sum(nil)
	if r >= 3 {
		for range 50 {
			sum := md5.Sum(key[:n])
			key = sum[:]
		}
	}
	return key[:n]
}

// checkUserKey verifies the key against /U (Algorithms 4 and 5).
func checkUserKey(key, u, id0 []byte, r int) bool {
	if r == 2 {
		c, err := rc4.NewCipher(key)
		if err != nil {
			return false
		}
		out := make([]byte, 32)
		c.XORKeyStream(out, []byte(passwordPadding))
		return len(u) >= 32 && bytes.Equal(out, u[:32])
	}
	h := md5.New()
	h.Write([]byte(passwordPadding))
	h.Write(id0)
	out := h.Sum(nil)
	for i := range 20 {
		k := make([]byte, len(key))
		for j := range key {
			k[j] = key[j] ^ byte(i)
		}
		c, err := rc4.NewCipher(k)
		if err != nil {
			return false
		}
		c.XORKeyStream(out, out)
	}
	return len(u) >= 16 && bytes.Equal(out[:16], u[:16])
}

// fileKeyV5 opens AES-256 files (R5, R6) with the empty user password.
func fileKeyV5(enc dict, r int, u []byte) ([]byte, bool) {
	ue, _ := enc["UE"].(str)
	if len(u) < 48 || len(ue) < 32 {
		return nil, false
	}
	hash := func(salt []byte) []byte {
		if r == 5 {
			s := sha256.Sum256(salt)
			return s[:]
		}
		return hash2B(nil, salt, nil)
	}
	if !bytes.Equal(hash(u[32:40]), u[:32]) {
		return nil, false
	}
	k := hash(u[40:48])
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, false
	}
	key := make([]byte, 32)
	cipher.NewCBCDecrypter(block, make([]byte, 16)).CryptBlocks(key, ue[:32])
	return key, true
}

// hash2B is the R6 password hash (ISO 32000-2, Algorithm 2.B).
func hash2B(pw, salt, udata []byte) []byte {
	k0 := sha256.Sum256(append(append(append([]byte{}, pw...), salt...), udata...))
	k := k0[:]
	for i := 0; ; i++ {
		seq := append(append(append([]byte{}, pw...), k...), udata...)
		k1 := bytes.Repeat(seq, 64)
		block, err := aes.NewCipher(k[:16])
		if err != nil {
			return nil
		}
		e := make([]byte, len(k1))
		cipher.NewCBCEncrypter(block, k[16:32]).CryptBlocks(e, k1)
		sum := 0
		for _, b := range e[:16] {
			sum += int(b)
		}
		switch sum % 3 {
		case 0:
			s := sha256.Sum256(e)
			k = s[:]
		case 1:
			s := sha512.Sum384(e)
			k = s[:]
		default:
			s := sha512.Sum512(e)
			k = s[:]
		}
		if i >= 63 && int(e[len(e)-1]) <= i-32 {
			break
		}
	}
	return k[:32]
}

// objectKey derives the per-object key (Algorithm 1).
func (c *decrypter) objectKey(ref ref, aesMode bool) []byte {
	if c.v5 {
		return c.key
	}
	h := md5.New()
	h.Write(c.key)
	h.Write([]byte{byte(ref.num), byte(ref.num >> 8), byte(ref.num >> 16), byte(ref.gen), byte(ref.gen >> 8)})
	if aesMode {
		h.Write([]byte("sAlT"))
	}
	return h.Sum(nil)[:min(len(c.key)+5, 16)]
}

func (c *decrypter) decrypt(data []byte, ref ref, aesMode bool) []byte {
	key := c.objectKey(ref, aesMode)
	if !aesMode {
		ciph, err := rc4.NewCipher(key)
		if err != nil {
			return data
		}
		out := make([]byte, len(data))
		ciph.XORKeyStream(out, data)
		return out
	}
	if len(data) < 32 || len(data)%16 != 0 {
		if len(data) >= 32 {
			data = data[:len(data)/16*16]
		} else {
			return nil
		}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return data
	}
	out := make([]byte, len(data)-16)
	cipher.NewCBCDecrypter(block, data[:16]).CryptBlocks(out, data[16:])
	if n := len(out); n > 0 {
		if pad := int(out[n-1]); pad >= 1 && pad <= 16 && pad <= n {
			out = out[:n-pad]
		}
	}
	return out
}

func (c *decrypter) decryptStream(data []byte, ref ref, dict dict) []byte {
	if c.stmID || ref == c.encRef {
		return data
	}
	return c.decrypt(data, ref, c.stmAES)
}

// decryptObj decrypts every string inside an object read from the file. Objects
// inside object streams were decrypted with their stream and are not passed here.
func (d *doc) decryptObj(v any, ref ref) any {
	c := d.crypt
	if c == nil || c.strID || ref == c.encRef {
		return v
	}
	var walk func(v any, depth int) any
	walk = func(v any, depth int) any {
		if depth > maxNesting {
			return v
		}
		switch t := v.(type) {
		case str:
			return str(c.decrypt(t, ref, c.strAES))
		case array:
			out := make(array, len(t))
			for i, x := range t {
				out[i] = walk(x, depth+1)
			}
			return out
		case dict:
			out := make(dict, len(t))
			for k, x := range t {
				out[k] = walk(x, depth+1)
			}
			return out
		}
		return v
	}
	return walk(v, 0)
}

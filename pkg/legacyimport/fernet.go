package legacyimport

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/fernet/fernet-go"
)

// How a legacy message's content was read.
type contentKind int

const (
	// contentDecrypted: a Fernet token the message secret opened.
	contentDecrypted contentKind = iota
	// contentPlain: not a Fernet token; the legacy deployment reads such rows as
	// plain UTF-8 (messages from before it encrypted them).
	contentPlain
	// contentUndecryptable: a Fernet token no given secret opens.
	contentUndecryptable
	// contentEmpty: no content at all (NULL).
	contentEmpty
)

// decrypter opens chat messages as the legacy deployment did: its Fernet key is
// the URL-safe base64 of the SHA-256 of the message secret (its
// CHAT_MESSAGE_ENCRYPTION_SECRET, else its JWT_SECRET, else its ROOT_API_KEY), and
// a row that is not a token it can open holds plain UTF-8.
type decrypter struct {
	keys []*fernet.Key
}

// newDecrypter derives a key from each secret; several cover a deployment whose
// secret changed over time.
func newDecrypter(secrets []string) *decrypter {
	d := &decrypter{}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		sum := sha256.Sum256([]byte(s))
		k := fernet.Key(sum)
		d.keys = append(d.keys, &k)
	}
	return d
}

// open returns the text of a message's content and how it was read. Text is
// valid UTF-8 without NUL characters, which PostgreSQL text cannot hold; bytes
// that are not UTF-8 are dropped as the legacy deployment dropped them.
func (d *decrypter) open(content []byte) (string, contentKind) {
	if content == nil {
		return "", contentEmpty
	}
	if looksLikeToken(content) {
		// TTL 0: the legacy deployment never expired its messages.
		if msg := fernet.VerifyAndDecrypt(bytes.TrimSpace(content), 0, d.keys); msg != nil {
			return cleanText(msg), contentDecrypted
		}
		return "", contentUndecryptable
	}
	return cleanText(content), contentPlain
}

// looksLikeToken reports whether b has the shape of a Fernet token: URL-safe
// base64 of version 0x80, a timestamp, an IV, whole AES blocks and an HMAC. Plain
// text of that shape does not happen by chance.
func looksLikeToken(b []byte) bool {
	s := strings.TrimSpace(string(b))
	raw, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return false
		}
	}
	const overhead = 1 + 8 + 16 + 32
	return len(raw) >= overhead+16 && raw[0] == 0x80 && (len(raw)-overhead)%16 == 0
}

func cleanText(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

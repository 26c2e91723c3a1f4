package legacyimport

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fernet/fernet-go"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/legacyimport/legacytest"
	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/vector"
)

func vectorStore(ctx context.Context, url string) (*vector.Store, error) {
	return vector.New(ctx, vector.Config{URL: url}, slog.New(slog.DiscardHandler))
}

func TestDecrypterReadsMessagesAsTheLegacyDeploymentDid(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte(legacytest.Secret))
	key := fernet.Key(sum)
	made, err := fernet.EncryptAndSign([]byte("ciao, è criptato"), &key)
	require.NoError(t, err)
	dec := newDecrypter([]string{legacytest.Secret})
	for _, tc := range []struct {
		name    string
		content []byte
		text    string
		kind    contentKind
	}{
		{"fernet-go token", made, "ciao, è criptato", contentDecrypted},
		{"Python's cryptography token", []byte(legacytest.PythonToken), legacytest.PythonText, contentDecrypted},
		{"token with a trailing newline", append([]byte(legacytest.PythonToken), '\n'), legacytest.PythonText, contentDecrypted},
		{"plain text", []byte("plain old message"), "plain old message", contentPlain},
		{"plain text that is base64", []byte("aGVsbG8gd29ybGQ="), "aGVsbG8gd29ybGQ=", contentPlain},
		{"invalid UTF-8 and NUL dropped", []byte("caf\xe9\x00 ok"), "caf ok", contentPlain},
		{"NULL", nil, "", contentEmpty},
	} {
		text, kind := dec.open(tc.content)
		require.Equal(t, tc.kind, kind, tc.name)
		require.Equal(t, tc.text, text, tc.name)
	}
	_, kind := newDecrypter([]string{"another secret"}).open(made)
	require.Equal(t, contentUndecryptable, kind)
	_, kind = newDecrypter(nil).open([]byte(legacytest.PythonToken))
	require.Equal(t, contentUndecryptable, kind, "without a secret a token is not taken for plain text")
	text, kind := newDecrypter([]string{"old", legacytest.Secret}).open(made)
	require.Equal(t, contentDecrypted, kind, "any of several secrets opens it")
	require.Equal(t, "ciao, è criptato", text)
}

func TestNamesFitTheRulesAndNeverCollide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	existing := map[string]bool{"admin": true, "bob": true}
	n := newNames(func(_ context.Context, name string) (bool, error) { return existing[strings.ToLower(name)], nil }, 64)
	claim := func(base string) string {
		got, err := n.claim(ctx, base)
		require.NoError(t, err)
		return got
	}
	require.Equal(t, "carol-smith", userNameBase("  carol smith ", 3))
	require.Equal(t, "user-7", userNameBase("日本", 7))
	require.Equal(t, "j.doe_1", userNameBase("j.doe_1", 1))
	require.Len(t, userNameBase(strings.Repeat("x", 100), 1), 64)
	require.Equal(t, "admin-2", claim("admin"))
	require.Equal(t, "Bob-2", claim("Bob"), "names are unique ignoring case")
	require.Equal(t, "carol", claim("carol"))
	require.Equal(t, "CAROL-2", claim("CAROL"), "the case of a name is kept")
	long := strings.Repeat("y", 64)
	require.Equal(t, long, claim(long))
	require.Equal(t, strings.Repeat("y", 62)+"-2", claim(long), "a suffix shortens the name to fit")
	require.Equal(t, "group-4", groupNameBase(" \t", 4))
	require.Equal(t, "R&D team", groupNameBase("R&D\tteam", 4))
}

func TestFindFileLooksOnlyUnderTheUploadRoot(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "run-ab12"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "run-ab12", "report.txt"), []byte("hello"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "report.txt"), []byte("another run's file of the same name"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "run-ab12", "image.bin"), []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0}, 0o644))
	outside := filepath.Join(filepath.Dir(root), "secret.txt")
	im := &importer{opts: Options{Uploads: root}}
	doc := func(p string) legacyDocument { return legacyDocument{ID: 1, Path: &p} }

	file, why := im.findFile(doc("/app/data/uploads/run-ab12/report.txt"))
	require.Empty(t, why)
	require.Equal(t, filepath.Join(root, "run-ab12", "report.txt"), file)
	file, why = im.findFile(doc(`C:\data\uploads\run-ab12\report.txt`))
	require.Empty(t, why)
	require.Equal(t, filepath.Join(root, "run-ab12", "report.txt"), file)
	_, why = im.findFile(doc("/app/data/uploads/run-zz99/report.txt"))
	require.Contains(t, why, "is not under --uploads", "a bare file name is not enough")
	_, why = im.findFile(doc("../../" + filepath.Base(outside)))
	require.Contains(t, why, "is not under --uploads")
	_, why = im.findFile(doc("/app/data/uploads/run-ab12/image.bin"))
	require.Contains(t, why, "cannot be parsed here")
	_, why = im.findFile(legacyDocument{ID: 1})
	require.Equal(t, "it has no file path", why)
}

func TestFilenamesAndFormats(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	require.Equal(t, "Q3 report.pdf", filenameOf(legacyDocument{Path: str("/app/uploads/run-1/Q3%20report.pdf")}))
	require.Equal(t, "guide.html", filenameOf(legacyDocument{URI: str("https://example.com/docs/guide.html")}))
	require.Equal(t, "example.com", filenameOf(legacyDocument{URI: str("https://example.com/")}))
	require.Equal(t, "document-9", filenameOf(legacyDocument{ID: 9}))
	require.Equal(t, parse.FormatPDF, formatOf("application/pdf"))
	require.Equal(t, parse.FormatMarkdown, formatOf("text/markdown; charset=utf-8"))
	require.Equal(t, parse.FormatText, formatOf("image/png"))
	require.Equal(t, parse.FormatText, formatOf(""))
}

func TestSourceURLAcceptsTheLegacyDriverSchemeAndHidesCredentials(t *testing.T) {
	t.Parallel()
	connect, where, err := sourceURL("postgresql+asyncpg://yw:s3cret@db:5432/youworker?sslmode=disable")
	require.NoError(t, err)
	require.Equal(t, "postgresql://yw:s3cret@db:5432/youworker?sslmode=disable", connect)
	require.Equal(t, "postgresql://db:5432/youworker", where)
	_, _, err = sourceURL("mysql://db/x")
	require.Error(t, err)
}

// TestScanCollectionReadsEveryPayloadShape assigns points to documents whatever
// release of the legacy deployment wrote them: metadata nested or at the top level,
// with or without the owner, numbers as integers or strings.
func TestScanCollectionReadsEveryPayloadShape(t *testing.T) {
	t.Parallel()
	d := legacytest.New(t)
	ctx := context.Background()
	src, err := openSource(ctx, d.DBURL)
	require.NoError(t, err)
	defer src.close()
	ann := d.User("ann", false, "")
	ben := d.User("ben", false, "")
	uri := func(name string) string { return "file:///app/data/uploads/run-1/" + name }
	d.Exec(`INSERT INTO documents (id, user_id, uri, path, path_hash) VALUES
		(10, $1, $2, '/app/data/uploads/run-1/a.txt', $3),
		(11, $1, NULL, '/app/data/uploads/run-1/b.txt', NULL),
		(12, $1, $4, NULL, $5), (13, $6, $4, NULL, $5)`,
		ann, uri("a.txt"), legacytest.PathHash(uri("a.txt")), uri("shared.txt"), legacytest.PathHash(uri("shared.txt")), ben)
	// Nested metadata, chunk_index from 1 (the current legacy release).
	d.RawPoint(map[string]any{"text": "a-2", "path_hash": legacytest.PathHash(uri("a.txt")),
		"metadata": map[string]any{"chunk_index": 2, "user_id": ann}})
	// Flat payload of an older release, numbers as strings.
	d.RawPoint(map[string]any{"text": "a-1", "path_hash": legacytest.PathHash(uri("a.txt")), "chunk_index": "1", "user_id": strconv.FormatInt(ann, 10)})
	// No path_hash on the row: the legacy basis, its path, gives it; no owner on the
	// point, but only one document has that hash.
	d.RawPoint(map[string]any{"text": "b-1", "path_hash": legacytest.PathHash("/app/data/uploads/run-1/b.txt"), "chunk_id": 1})
	// No owner and a hash two users' documents share: nobody can tell whose.
	d.RawPoint(map[string]any{"text": "s-1", "path_hash": legacytest.PathHash(uri("shared.txt")), "chunk_id": 1})
	// Owner given: it is ben's.
	d.RawPoint(map[string]any{"text": "s-ben", "path_hash": legacytest.PathHash(uri("shared.txt")),
		"metadata": map[string]any{"chunk_index": 1.0, "user_id": float64(ben)}})

	docs, err := src.documents(ctx)
	require.NoError(t, err)
	vs, err := vectorStore(ctx, d.QdrantURL)
	require.NoError(t, err)
	defer vs.Close()
	ix, err := scanCollection(ctx, vs, d.Collection, docs)
	require.NoError(t, err)
	require.Equal(t, 5, ix.points)
	require.Equal(t, 1, ix.ambiguous)
	require.Zero(t, ix.orphans)
	texts := func(doc int64) []string {
		got, err := fetchTexts(ctx, vs, d.Collection, ix.byDoc[doc])
		require.NoError(t, err)
		return got
	}
	require.Equal(t, []string{"a-1", "a-2"}, texts(10), "in chunk order")
	require.Equal(t, []string{"b-1"}, texts(11))
	require.Empty(t, ix.byDoc[12])
	require.Equal(t, []string{"s-ben"}, texts(13))
}

// Package legacytest builds a deployment of the legacy Python product for tests of
// the legacy import: its PostgreSQL schema (transcribed from its models into
// schema.sql) in a fresh database, its Qdrant collection in an embedded vector
// store of its own, and its upload root in a temporary directory, filled with the
// rows, points and files a test adds. Messages are encrypted as the legacy
// deployment did, with a well-kept Fernet implementation (fernet-go); PythonToken
// was made by Python's cryptography package itself.
package legacytest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/qdrant/go-client/qdrant"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/pgtest"
	"github.com/youworker/youworker/pkg/qdrantlite"
	"github.com/youworker/youworker/pkg/vector/vectortest"
)

//go:embed schema.sql
var schemaSQL string

// Secret is the fixture deployment's message secret (its
// CHAT_MESSAGE_ENCRYPTION_SECRET).
const Secret = "legacy-chat-secret"

// PythonToken is PythonText encrypted with Secret's key by Python's cryptography
// 48 (Fernet(urlsafe_b64encode(sha256(secret))).encrypt), as the legacy
// deployment stores a message.
const PythonToken = "gAAAAABrFe387Q0-pcmo58lmtTErFa3mLkICLDsCs3L9J5Kq7VPHIV7XaMiQXGpsrV3Rh3RfCmfasalR2EM_h8bbIybPyswOyPEV5HZAM6XpSAJSPnQSh_RCNVeErEl_QL-CCHiJJEt6In4bmtn5ef2B07H-VqgkfA=="

// PythonText is what PythonToken holds.
const PythonText = "Wie war das Quartal? — encrypted by Python's cryptography"

// Dim is the legacy collection's vector size.
const Dim = 768

// Deployment is a legacy deployment under construction.
type Deployment struct {
	t     testing.TB
	Pool  *pgxpool.Pool
	DBURL string
	// QdrantURL is the gRPC endpoint of the vector store holding Collection.
	QdrantURL  string
	Collection string
	// Uploads is the upload root files are written under.
	Uploads string
	client  *qdrant.Client
	key     *fernet.Key
	clock   time.Time
}

// New creates an empty legacy deployment: the schema in a fresh database, an
// empty collection of unnamed 768-dimensional cosine vectors, an empty upload root.
func New(t testing.TB) *Deployment {
	t.Helper()
	ctx := context.Background()
	dbURL := pgtest.NewEmptyDB(t)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, schemaSQL)
	require.NoError(t, err)

	srv, err := qdrantlite.Start(ctx, qdrantlite.Config{Dir: t.TempDir(), Addr: "127.0.0.1:0"}, vectortest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	host, port := splitAddr(t, srv.Addr())
	client, err := qdrant.NewClient(&qdrant.Config{Host: host, Port: port, SkipCompatibilityCheck: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	d := &Deployment{t: t, Pool: pool, DBURL: dbURL, QdrantURL: "http://" + srv.Addr(), Collection: "documents",
		Uploads: t.TempDir(), client: client, clock: time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)}
	require.NoError(t, client.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: d.Collection,
		VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: Dim, Distance: qdrant.Distance_Cosine})}))
	sum := sha256.Sum256([]byte(Secret))
	k := fernet.Key(sum)
	d.key = &k
	return d
}

func splitAddr(t testing.TB, addr string) (string, int) {
	var host string
	var port int
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			host = addr[:i]
			_, err := fmt.Sscan(addr[i+1:], &port)
			require.NoError(t, err)
			break
		}
	}
	return host, port
}

// StartAt sets when the deployment's history begins (by default, January 2025).
func (d *Deployment) StartAt(t time.Time) { d.clock = t }

// tick is the next moment of the deployment's history: rows are created a minute
// apart, in the order a test adds them.
func (d *Deployment) tick() time.Time {
	d.clock = d.clock.Add(time.Minute)
	return d.clock
}

// KeyHash is how the legacy deployment stores an API key.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// User adds a user; key "" leaves them without a key.
func (d *Deployment) User(name string, root bool, key string) int64 {
	var hash *string
	if key != "" {
		h := KeyHash(key)
		hash = &h
	}
	return d.insert(`INSERT INTO users (username, is_root, api_key_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		name, root, hash, d.tick())
}

// Group adds a group.
func (d *Deployment) Group(name, description string) int64 {
	at := d.tick()
	return d.insert(`INSERT INTO groups (name, description, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id`,
		name, description, at)
}

// Member adds a user to a group with role (member or admin).
func (d *Deployment) Member(user, group int64, role string) {
	d.insert(`INSERT INTO user_group_memberships (user_id, group_id, role, joined_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		user, group, role, d.tick())
}

// Session adds a chat session; externalID and title may be "" (NULL).
func (d *Deployment) Session(user int64, externalID, title, model string, tools bool) int64 {
	at := d.tick()
	return d.insert(`INSERT INTO chat_sessions (external_id, user_id, title, model, enable_tools, created_at, updated_at)
		VALUES (nullif($1, ''), $2, nullif($3, ''), nullif($4, ''), $5, $6, $6) RETURNING id`, externalID, user, title, model, tools, at)
}

// Encrypt encrypts text as the legacy deployment stored messages.
func (d *Deployment) Encrypt(text string) []byte {
	tok, err := fernet.EncryptAndSign([]byte(text), d.key)
	require.NoError(d.t, err)
	return tok
}

// Message adds a message with content as stored (see Encrypt); tokens are the
// legacy usage columns (nil: NULL).
func (d *Deployment) Message(session int64, role string, content []byte, tokensIn, tokensOut *int) int64 {
	id := d.insert(`INSERT INTO chat_messages (session_id, role, content, created_at, tokens_in, tokens_out)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, session, role, content, d.tick(), tokensIn, tokensOut)
	_, err := d.Pool.Exec(context.Background(), `UPDATE chat_sessions SET updated_at = $2 WHERE id = $1`, session, d.clock)
	require.NoError(d.t, err)
	return id
}

// Doc is a legacy document: its row, its chunks in the collection and, when File
// is set, its file under the upload root.
type Doc struct {
	User    int64
	Group   int64 // 0: none
	Private bool
	// Name is the file name; the legacy path is /app/data/uploads/run-<hex>/Name.
	Name   string
	MIME   string
	Tags   []string
	Chunks []string
	// File, when not nil, is written at the document's path under the upload root.
	File []byte
	// StaleChunks are points of an earlier ingestion of the same file, which a
	// later one replaced.
	StaleChunks []string
}

// Document adds a document and returns its id.
func (d *Deployment) Document(doc Doc) int64 {
	ctx := context.Background()
	run := "run-" + randomHex(8)
	path := "/app/data/uploads/" + run + "/" + doc.Name
	uri := "file://" + path
	sum := sha256.Sum256([]byte(uri))
	pathHash := hex.EncodeToString(sum[:])
	var group *int64
	if doc.Group != 0 {
		group = &doc.Group
	}
	size := int64(len(doc.File))
	at := d.tick()
	id := d.insert(`INSERT INTO documents (user_id, group_id, is_private, uri, path, mime, bytes_size, source, path_hash, created_at, last_ingested_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'file', $8, $9, $9) RETURNING id`, doc.User, group, doc.Private, uri, path, doc.MIME, size, pathHash, at)
	for _, tag := range doc.Tags {
		tid := d.insert(`INSERT INTO tags (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`, tag)
		d.insert(`INSERT INTO document_tags (document_id, tag_id) VALUES ($1, $2) RETURNING id`, id, tid)
	}
	if doc.File != nil {
		dir := filepath.Join(d.Uploads, run)
		require.NoError(d.t, os.MkdirAll(dir, 0o755))
		require.NoError(d.t, os.WriteFile(filepath.Join(dir, doc.Name), doc.File, 0o644))
	}
	if len(doc.StaleChunks) > 0 {
		d.points(ctx, doc, uri, pathHash, doc.StaleChunks, at.Add(-time.Hour))
	}
	d.points(ctx, doc, uri, pathHash, doc.Chunks, at)
	return id
}

// points writes chunks as the legacy pipeline did (prepare_points in
// packages/ingestion/embedder_integration.py): one point per chunk, a random UUID,
// chunk_index from 1, one created_at for the whole ingestion.
func (d *Deployment) points(ctx context.Context, doc Doc, uri, pathHash string, chunks []string, at time.Time) {
	if len(chunks) == 0 {
		return
	}
	tags := make([]any, len(doc.Tags))
	for i, t := range doc.Tags {
		tags[i] = t
	}
	var points []*qdrant.PointStruct
	for i, text := range chunks {
		pid := uuid.NewString()
		meta := map[string]any{"chunk_index": i + 1, "total_chunks": len(chunks), "filename": doc.Name, "uri": uri,
			"path_hash": pathHash, "chunk_id": i + 1, "output_format": "markdown", "user_id": doc.User}
		if len(tags) > 0 {
			meta["tags"] = tags
		}
		if i == 0 {
			meta["artifact_summary"] = map[string]any{"tables": 0, "images": 0}
		}
		payload := map[string]any{"id": pid, "chunk_id": i + 1, "source": "file", "uri": uri, "mime": doc.MIME,
			"path_hash": pathHash, "created_at": at.Format("2006-01-02T15:04:05.000000+00:00"), "text": text, "metadata": meta}
		points = append(points, &qdrant.PointStruct{Id: qdrant.NewIDUUID(pid), Vectors: qdrant.NewVectorsDense(pseudoVector(text)),
			Payload: qdrant.NewValueMap(payload)})
	}
	d.upsert(ctx, points)
}

// OrphanPoint adds a point no document claims (its document row was never
// written, as happens when the legacy deployment failed to record an ingestion).
func (d *Deployment) OrphanPoint(user int64, text string) {
	pid := uuid.NewString()
	payload := map[string]any{"text": text, "path_hash": randomHex(32), "uri": "file:///srv/uploads/lost.txt",
		"metadata": map[string]any{"chunk_index": 1, "user_id": user}}
	d.upsert(context.Background(), []*qdrant.PointStruct{{Id: qdrant.NewIDUUID(pid), Vectors: qdrant.NewVectorsDense(pseudoVector(text)),
		Payload: qdrant.NewValueMap(payload)}})
}

// RawPoint adds a point with exactly this payload, for the shapes older releases
// of the legacy deployment wrote.
func (d *Deployment) RawPoint(payload map[string]any) {
	text, _ := payload["text"].(string)
	d.upsert(context.Background(), []*qdrant.PointStruct{{Id: qdrant.NewIDUUID(uuid.NewString()),
		Vectors: qdrant.NewVectorsDense(pseudoVector(text)), Payload: qdrant.NewValueMap(payload)}})
}

// PathHash is the path_hash the legacy deployment gives a document with this uri.
func PathHash(uri string) string {
	sum := sha256.Sum256([]byte(uri))
	return hex.EncodeToString(sum[:])
}

func (d *Deployment) upsert(ctx context.Context, points []*qdrant.PointStruct) {
	_, err := d.client.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: d.Collection, Points: points, Wait: qdrant.PtrOf(true)})
	require.NoError(d.t, err)
}

// History adds a tool run and an ingestion run of user, which the import leaves
// behind.
func (d *Deployment) History(user int64) {
	d.insert(`INSERT INTO tool_runs (user_id, tool_name, status, latency_ms) VALUES ($1, 'web.search', 'success', 120) RETURNING id`, user)
	d.insert(`INSERT INTO ingestion_runs (user_id, target, totals_files, totals_chunks) VALUES ($1, '/app/data/uploads', 1, 3) RETURNING id`, user)
}

// Exec runs a statement on the legacy database.
func (d *Deployment) Exec(sql string, args ...any) {
	_, err := d.Pool.Exec(context.Background(), sql, args...)
	require.NoError(d.t, err)
}

func (d *Deployment) insert(sql string, args ...any) int64 {
	var id int64
	require.NoError(d.t, d.Pool.QueryRow(context.Background(), sql, args...).Scan(&id))
	return id
}

// pseudoVector is a unit vector derived from text: the legacy embeddings are
// never read (the import embeds again), but they must be valid.
func pseudoVector(text string) []float32 {
	v := make([]float32, Dim)
	seed := sha256.Sum256([]byte(text))
	var norm float64
	for i := range v {
		b := seed[i%len(seed)]
		v[i] = float32(int(b)-128) / 128
		if v[i] == 0 {
			v[i] = 0.01
		}
		norm += float64(v[i]) * float64(v[i])
	}
	n := float32(math.Sqrt(norm))
	for i := range v {
		v[i] /= n
	}
	return v
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Int returns a pointer to n, for the usage columns.
func Int(n int) *int { return &n }

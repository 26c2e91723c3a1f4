package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/pgtest"
)

// corpusOutcome is what uploading one corpus file must lead to: ready with a phrase
// of the file in its chunks, failed with a code, or refused at upload (415) with a
// message naming the type.
type corpusOutcome struct {
	phrase     string // ready, and this text is in the document's chunks
	failed     string // failed with this code
	refused415 string // the upload is refused; the problem names this
}

// corpusOutcomes maps every file of the shared corpus to its outcome. A new corpus
// file without an entry fails the test.
var corpusOutcomes = map[string]corpusOutcome{
	// Plain text in several encodings, and XML read as text.
	"fake-text.txt":                {phrase: "Hamburgers are delicious"},
	"fake-text-utf-16-le.txt":      {phrase: "I love fuzzy blankets"},
	"fake-text-utf-32.txt":         {phrase: "Dogs are the best"},
	"norwich-city.txt":             {phrase: "Iwan Roberts"},
	"book-war-and-peace-1p.txt":    {phrase: "so Genoa and Lucca are now just family estates"},
	"UDHR_first_article_all.txt":   {phrase: "是人都生而自由"},
	"factbook.xml":                 {phrase: "Emmanuel Macron"},
	"empty.txt":                    {failed: "empty"},
	"fake-text-all-whitespace.txt": {failed: "empty"},
	// Markdown.
	"sample-readme.md":    {phrase: "You can parse this document using the HTML parser."},
	"codeblock.md":        {phrase: "Don't forget me this weekend!"},
	"simple-table.md":     {phrase: "Juicy Apples"},
	"umlauts-non-utf8.md": {phrase: "äöüß"},
	"SOURCE.md":           {phrase: "Unstructured-IO/unstructured"},
	// Delimited tables.
	"stanley-cups.csv":            {phrase: "Maple Leafs"},
	"stanley-cups-utf-16.csv":     {phrase: "Flyers"},
	"stanley-cups-with-emoji.tsv": {phrase: "🔧"},
	"csv-with-escaped-commas.csv": {phrase: "A,A"},
	"semicolon-delimited.csv":     {phrase: "consectetur"},
	// HTML and mail.
	"fake-html.html":                         {phrase: "My first paragraph. lorem ipsum"},
	"fake-html-cp1252.html":                  {phrase: "Die schöne Frau"},
	"fake-html-pre.htm":                      {phrase: "UNITING AND STRENGTHENING AMERICA"},
	"example-with-scripts.html":              {phrase: "Belarusian forces remain unlikely to attack Ukraine"},
	"example-steelJIS-datasheet-utf-16.html": {phrase: "Chromium molybdenum steel"},
	"example-10k-1p.html":                    {phrase: "Galaxy Gaming, Inc."},
	"family-day.eml":                         {phrase: "Get excited for our first annual family day!"},
	"fake-doc.rtf":                           {phrase: "My first paragraph."},
	// Office and e-book containers.
	"docx-hdrftr.docx":                 {phrase: "Main document"},
	"docx-tables.docx":                 {phrase: "Simple uniform table"},
	"example-list-items-multiple.docx": {phrase: "The quick brown fox jumps over the lazy dog."},
	"fake.docx":                        {phrase: "Lorem ipsum dolor sit amet."},
	"handbook-1p.docx":                 {phrase: "US Trustee Handbook"},
	"page-breaks.docx":                 {phrase: "First page, tab here:"},
	"tables-with-incomplete-rows.docx": {phrase: "rows is missing cells"},
	"fake-power-point.pptx":            {phrase: "Adding a Bullet Slide"},
	"fake-power-point-malformed.pptx":  {phrase: "Problem Date Placeholder"},
	"fake-power-point-table.pptx":      {phrase: "A Slide with a Table"},
	"sample-presentation.pptx":         {phrase: "This is the second content slide"},
	"emoji.xlsx":                       {phrase: "🤠😅"},
	"stanley-cups.xlsx":                {phrase: "Stanley Cups Since 67"},
	"vodafone.xlsx":                    {phrase: "Quarterly revenue"},
	"empty.xlsx":                       {failed: "empty"},
	"fake.odt":                         {phrase: "Lorem ipsum dolor sit amet."},
	"winter-sports.epub":               {phrase: "And that which he weds to such lovely language"},
	// PDF.
	"DA-1p.pdf":                 {phrase: "We arrived in the dead of night"},
	"copy-protected.pdf":        {phrase: "Deep Learning Based Document Image Analysis"},
	"embedded-cmap-cidfont.pdf": {phrase: "This text uses an embedded CMap"},
	"fake-memo.pdf":             {phrase: "10,000 blankets"},
	"invalid-pdf-structure-pdfminer-one-page.pdf": {phrase: "National Cybersecurity Strategy"},
	"korean-text-with-tables.pdf":                 {phrase: "이마트 트레이더스"},
	"layout-parser-paper-fast.pdf":                {phrase: "A Unified Toolkit"},
	"list-item-example.pdf":                       {phrase: "importance and principles of product development"},
	"multi-column-2p.pdf":                         {phrase: "relies on efficient passage retrieval"},
	"pdf-bad-color-space.pdf":                     {phrase: "technology-based carbon removal solutions"},
	"rotated-page-90.pdf":                         {phrase: "Hello World Test Text"},
	"password.pdf":                                {failed: "encrypted"},
	// Refused at upload.
	"simple.zip":              {refused415: "ZIP archive"},
	"fake.doc":                {refused415: "legacy Word .doc"},
	"fake-power-point.ppt":    {refused415: "legacy PowerPoint .ppt"},
	"tests-example.xls":       {refused415: "legacy Excel .xls"},
	"password_protected.xlsx": {refused415: "password-protected"},
}

// TestIngestWholeCorpusEndToEnd uploads every corpus document through the real
// program and checks each one's outcome, then that the worker still serves.
func TestIngestWholeCorpusEndToEnd(t *testing.T) {
	pool, dbURL := pgtest.NewDB(t)
	dir := corpustest.Dir(t)
	admin := "bootstrap-admin-key-for-corpus-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error", "YW_RATE_LIMIT_RPS": "1000", "YW_RATE_LIMIT_BURST": "1000"})
	c := apitest.NewClient(t, base)
	key := newUser(t, c, admin, "corpus")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var accepted []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		want, ok := corpusOutcomes[e.Name()]
		require.True(t, ok, "corpus file %s has no expected outcome: add it to corpusOutcomes", e.Name())
		if want.refused415 != "" {
			resp := c.Upload("/v1/documents", key, []apitest.File{{Name: e.Name(), Data: corpustest.Read(t, e.Name())}}, nil,
				http.StatusUnsupportedMediaType, nil)
			require.Contains(t, resp.Body, want.refused415, e.Name())
			require.Contains(t, resp.Body, "unsupported_media_type", e.Name())
			continue
		}
		accepted = append(accepted, e.Name())
	}
	for name := range corpusOutcomes {
		_, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, "corpusOutcomes names %s, which the corpus no longer has", name)
	}

	// A few files per request, as a person selecting several files would.
	ids := map[string]string{}
	for i := 0; i < len(accepted); i += 4 {
		var files []apitest.File
		for _, name := range accepted[i:min(i+4, len(accepted))] {
			files = append(files, apitest.File{Name: name, Data: corpustest.Read(t, name)})
		}
		var up struct {
			Documents []document `json:"documents"`
		}
		c.Upload("/v1/documents", key, files, nil, http.StatusAccepted, &up)
		require.Len(t, up.Documents, len(files))
		for j, d := range up.Documents {
			require.Equal(t, files[j].Name, d.Filename)
			require.False(t, d.Duplicate, d.Filename)
			ids[d.Filename] = d.ID
		}
	}

	// Every document reaches its outcome within a bounded time: none hangs.
	got := waitAll(t, c, key, ids, 90*time.Second)
	var problems []string
	for _, name := range accepted {
		want, d := corpusOutcomes[name], got[name]
		switch {
		case want.failed != "":
			if d.Status != "failed" || d.Error["code"] != want.failed || d.Error["message"] == "" {
				problems = append(problems, fmt.Sprintf("%s: want failed/%s, got %s %v", name, want.failed, d.Status, d.Error))
			}
		case d.Status != "ready":
			problems = append(problems, fmt.Sprintf("%s: want ready, got %s %v", name, d.Status, d.Error))
		case !chunksContain(t, pool, d.ID, want.phrase):
			problems = append(problems, fmt.Sprintf("%s: ready, but no chunk contains %q", name, want.phrase))
		case d.ChunkCount == 0 || d.Progress["chunks_done"] != d.ChunkCount:
			problems = append(problems, fmt.Sprintf("%s: ready with %d chunks, progress %v", name, d.ChunkCount, d.Progress))
		}
	}
	require.Empty(t, problems)

	// Search finds a passage by its words.
	var found hits
	c.Do("POST", "/v1/search", key, map[string]any{"query": "Iwan Roberts Norwich"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits)
	require.Equal(t, "norwich-city.txt", found.Hits[0].Filename)

	// The worker survived the whole corpus: a new upload still becomes ready.
	var up struct {
		Documents []document `json:"documents"`
	}
	c.Upload("/v1/documents", key, []apitest.File{{Name: "after.txt", Data: []byte("Still alive after the corpus.")}}, nil, http.StatusAccepted, &up)
	require.Equal(t, "ready", waitFor(t, c, key, up.Documents[0].ID).Status)
}

// waitAll polls the documents until each is ready or failed, failing the test with
// the ones still pending when the deadline passes.
func waitAll(t *testing.T, c *apitest.Client, key string, ids map[string]string, timeout time.Duration) map[string]document {
	t.Helper()
	out := map[string]document{}
	deadline := time.Now().Add(timeout)
	for len(out) < len(ids) {
		var pending []string
		for name, id := range ids {
			if _, ok := out[name]; ok {
				continue
			}
			var d document
			c.Do("GET", "/v1/documents/"+id, key, nil, http.StatusOK, &d)
			if d.Status == "ready" || d.Status == "failed" {
				out[name] = d
				continue
			}
			pending = append(pending, name+" ("+d.Status+")")
		}
		if len(pending) == 0 {
			break
		}
		sort.Strings(pending)
		require.True(t, time.Now().Before(deadline), "still pending after %s: %v", timeout, pending)
		time.Sleep(50 * time.Millisecond) // polling interval, as a client would
	}
	return out
}

// chunksContain reports whether the phrase is in the document's chunks, their text or
// the headings they sit under.
func chunksContain(t *testing.T, pool *pgxpool.Pool, docID, phrase string) bool {
	t.Helper()
	var text string
	err := pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(array_to_string(heading_path, E'\n') || E'\n' || text, E'\n' ORDER BY chunk_index), '')
		 FROM chunks WHERE document_id = $1`, docID).Scan(&text)
	require.NoError(t, err)
	return strings.Contains(text, phrase)
}

// TestConcurrentUploadsByThreeUsers sends 20 uploads at once from three users: all
// become ready, and each user lists and finds only their own.
func TestConcurrentUploadsByThreeUsers(t *testing.T) {
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-concurrency-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "error"})
	c := apitest.NewClient(t, base)
	users := []string{"ann", "ben", "cat"}
	keys := map[string]string{}
	for _, u := range users {
		keys[u] = newUser(t, c, admin, u)
	}

	var mu sync.Mutex
	mine := map[string][]string{} // user -> document ids
	t.Run("uploads", func(t *testing.T) {
		for i := range 20 {
			user := users[i%len(users)]
			t.Run(fmt.Sprintf("%s-%d", user, i), func(t *testing.T) {
				t.Parallel()
				c := apitest.NewClient(t, base)
				text := fmt.Sprintf("Report %d by %s about concurrent ingestion of shared harbour logistics. Marker %s%d.", i, user, user, i)
				var up struct {
					Documents []document `json:"documents"`
				}
				c.Upload("/v1/documents", keys[user], []apitest.File{{Name: fmt.Sprintf("report-%d.txt", i), Data: []byte(text)}}, nil, http.StatusAccepted, &up)
				require.Len(t, up.Documents, 1)
				mu.Lock()
				mine[user] = append(mine[user], up.Documents[0].ID)
				mu.Unlock()
			})
		}
	})
	require.False(t, t.Failed())

	for _, u := range users {
		ids := map[string]string{}
		for _, id := range mine[u] {
			ids[id] = id
		}
		for _, d := range waitAll(t, c, keys[u], ids, 60*time.Second) {
			require.Equal(t, "ready", d.Status, "%s: %v", d.Filename, d.Error)
		}
	}
	for _, u := range users {
		var list struct {
			Documents []document `json:"documents"`
		}
		c.Do("GET", "/v1/documents?limit=200", keys[u], nil, http.StatusOK, &list)
		var listed []string
		for _, d := range list.Documents {
			listed = append(listed, d.ID)
		}
		require.ElementsMatch(t, mine[u], listed, "%s lists exactly their own documents", u)

		var found hits
		c.Do("POST", "/v1/search", keys[u], map[string]any{"query": "concurrent ingestion harbour logistics", "limit": 50}, http.StatusOK, &found)
		require.Len(t, found.Hits, len(mine[u]), "%s finds each of their documents", u)
		for _, h := range found.Hits {
			require.Contains(t, mine[u], h.DocumentID, "%s must not find another user's document", u)
			require.Contains(t, h.Text, "by "+u)
		}
	}
}

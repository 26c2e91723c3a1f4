package retrievalbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/youworker/youworker/pkg/access"
)

// The access layout of the latency store: documents spread over owners and groups
// so that the searcher's filter keeps a minority of the chunks and is not a
// plain owner match.
const (
	latencyOwners  = 7  // besides the searcher
	latencyGroups  = 12 // every owner is in each; the searcher in the first few
	searcherGroups = 3
	synthDocBytes  = 256 << 10
	uploadClients  = 4
	latencyWarmup  = 50
	fillTimeout    = 30 * time.Minute
	fillPollEvery  = 200 * time.Millisecond
	minPoolBytes   = 16 << 10
	maxParagraph   = 2000
)

// latencyResult is the latency phase's figures.
type latencyResult struct {
	config                              string // configDefault or configModel
	chunks, visible                     int    // in the store; visible to the searcher
	documents, owners, groups, memberOf int
	synthetic, fillChunks               int
	fill                                time.Duration
	search, me                          []time.Duration
	hitsPerSearch                       float64
	gcs                                 int // garbage collections during the timed calls
}

// principal is a user of the latency store.
type principal struct{ id, key string }

// measureLatency fills the store through the real ingestion path with synthetic
// documents built from the corpus text until it holds o.chunks chunks, then
// times o.searches searches and as many GET /v1/me, alternating, from one client.
func measureLatency(ctx context.Context, r *rig, o options, sources []source, queries []query, progress io.Writer) (latencyResult, error) {
	res := latencyResult{owners: latencyOwners + 1, groups: latencyGroups, memberOf: searcherGroups}
	users := []principal{{r.userID, r.key}}
	for i := range latencyOwners {
		u, key, err := r.users.Create(ctx, access.System, fmt.Sprintf("owner-%d", i+1), false)
		if err != nil {
			return res, err
		}
		users = append(users, principal{u.ID, key.Secret})
	}
	groups := make([]string, latencyGroups)
	for g := range groups {
		creator := users[1+g%latencyOwners]
		var out struct {
			ID string `json:"id"`
		}
		if err := r.do(ctx, http.MethodPost, "/v1/groups", creator.key, map[string]any{"name": fmt.Sprintf("team-%02d", g)}, http.StatusCreated, &out); err != nil {
			return res, err
		}
		groups[g] = out.ID
		for i, u := range users {
			if u.id == creator.id || (i == 0 && g >= searcherGroups) {
				continue
			}
			// Members join by accepting their invitation.
			var inv struct {
				Invitation struct {
					ID string `json:"id"`
				} `json:"invitation"`
			}
			if err := r.do(ctx, http.MethodPost, "/v1/groups/"+out.ID+"/members", creator.key, map[string]any{"user_id": u.id}, http.StatusAccepted, &inv); err != nil {
				return res, err
			}
			if err := r.do(ctx, http.MethodPost, "/v1/me/invitations/"+inv.Invitation.ID+"/accept", u.key, nil, http.StatusOK, nil); err != nil {
				return res, err
			}
		}
	}
	pool := paragraphs(sources)
	size := 0
	for _, p := range pool {
		size += len(p)
	}
	if size < minPoolBytes {
		return res, fmt.Errorf("the corpus has %d bytes of readable paragraphs, too few to build synthetic documents", size)
	}

	// One document first: its chunk count sizes the rest.
	began := time.Now()
	start, err := countChunks(ctx, r)
	if err != nil {
		return res, err
	}
	var failedBefore int
	if err := r.p.Pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE status = 'failed'`).Scan(&failedBefore); err != nil {
		return res, err
	}
	next := 0
	upload := func(n int) error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(uploadClients)
		for range n {
			j := next
			next++
			g.Go(func() error {
				owner, fields := placement(o.seed, j, users, groups)
				_, err := r.upload(gctx, owner.key, fmt.Sprintf("synthetic-%05d.txt", j), synthetic(o.seed, j, pool), fields)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		return waitIngested(ctx, r, failedBefore)
	}
	if err := upload(1); err != nil {
		return res, err
	}
	have, err := countChunks(ctx, r)
	if err != nil {
		return res, err
	}
	perDoc := max(have-start, 1)
	for have < o.chunks {
		n := (o.chunks - have + perDoc - 1) / perDoc
		fmt.Fprintf(progress, "latency: %d chunks, uploading %d synthetic documents of ~%d chunks\n", have, n, perDoc)
		if err := upload(n); err != nil {
			return res, err
		}
		if have, err = countChunks(ctx, r); err != nil {
			return res, err
		}
	}
	res.fill, res.synthetic, res.fillChunks = time.Since(began), next, have-start
	res.chunks = have
	err = r.p.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE d.status = 'ready' AND `+access.DocumentPredicate("d", 1), access.DocumentArgs(access.Principal{UserID: r.userID})...).Scan(&res.visible)
	if err == nil {
		err = r.p.Pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE status = 'ready'`).Scan(&res.documents)
	}
	if err != nil {
		return res, fmt.Errorf("count the store: %w", err)
	}
	fmt.Fprintf(progress, "latency: %d chunks in %s; timing %d searches\n", have, res.fill.Round(time.Second), o.searches)

	texts := make([]string, len(queries))
	for i, q := range queries {
		texts[i] = q.text
	}
	rng := rand.New(rand.NewPCG(o.seed, 0x5eed))
	rng.Shuffle(len(texts), func(a, b int) { texts[a], texts[b] = texts[b], texts[a] })
	if len(texts) == 0 {
		texts = []string{"winter sports in Switzerland"}
	}
	// Filling the store leaves a large heap to collect in this one process;
	// collecting it now keeps that debt out of the timed window, which then pays
	// only for the collections its own requests cause (counted in gcs).
	runtime.GC()
	var before, after runtime.MemStats
	hits := 0
	for i := range latencyWarmup + o.searches {
		if i == latencyWarmup {
			runtime.ReadMemStats(&before)
		}
		body, err := json.Marshal(map[string]any{"query": texts[i%len(texts)], "limit": depth})
		if err != nil {
			return res, err
		}
		d, data, err := r.timed(ctx, http.MethodPost, "/v1/search", body)
		if err != nil {
			return res, err
		}
		dm, _, err := r.timed(ctx, http.MethodGet, "/v1/me", nil)
		if err != nil {
			return res, err
		}
		if i < latencyWarmup {
			continue
		}
		res.search, res.me = append(res.search, d), append(res.me, dm)
		var out struct {
			Hits []json.RawMessage `json:"hits"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return res, err
		}
		hits += len(out.Hits)
	}
	runtime.ReadMemStats(&after)
	res.gcs = int(after.NumGC - before.NumGC)
	res.hitsPerSearch = float64(hits) / float64(o.searches)
	return res, nil
}

// timed sends one request as the searcher and returns the time from sending it
// to having read the whole answer, which must be 200. Encoding the body before
// and decoding the answer after are left out: they are the client's work.
func (r *rig) timed(ctx context.Context, method, path string, body []byte) (time.Duration, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	began := time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(resp.Body)
	d := time.Since(began)
	_ = resp.Body.Close()
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, &statusError{resp.StatusCode, string(data)})
	}
	return d, data, nil
}

// placement decides who owns synthetic document j and where it is shared: any
// of the users, in one of the groups (the searcher's own only in groups it is
// in) or in none, a fifth of the shared ones private to their owner.
func placement(seed uint64, j int, users []principal, groups []string) (principal, map[string]string) {
	rng := seeded(seed, "placement:"+strconv.Itoa(j))
	owner := users[j%len(users)]
	slots := len(groups) + 1 // the last slot: no group
	if j%len(users) == 0 {
		slots = searcherGroups + 1
	}
	slot := rng.IntN(slots)
	if slot == slots-1 {
		return owner, nil
	}
	return owner, map[string]string{"group_id": groups[slot], "private": strconv.FormatBool(rng.IntN(5) == 0)}
}

// paragraphs is the corpus text cut into paragraphs of at most maxParagraph
// bytes, the material of the synthetic documents.
func paragraphs(sources []source) []string {
	var out []string
	for _, s := range sources {
		for _, para := range strings.Split(strings.ReplaceAll(s.text, "\r\n", "\n"), "\n\n") {
			var cur strings.Builder
			for _, line := range strings.Split(para, "\n") {
				line = strings.TrimSpace(line)
				if line == "" {
					continue
				}
				if cur.Len() > 0 && cur.Len()+len(line) > maxParagraph {
					out = append(out, cur.String())
					cur.Reset()
				}
				if cur.Len() > 0 {
					cur.WriteByte(' ')
				}
				cur.WriteString(line)
			}
			if cur.Len() >= 40 {
				out = append(out, cur.String())
			}
		}
	}
	return out
}

// synthetic is document j: corpus paragraphs drawn at random, numbered so that
// no two documents have the same bytes (the platform would deduplicate them).
func synthetic(seed uint64, j int, pool []string) []byte {
	rng := seeded(seed, "synthetic:"+strconv.Itoa(j))
	var b bytes.Buffer
	fmt.Fprintf(&b, "Synthetic document %d\n\n", j)
	for b.Len() < synthDocBytes {
		b.WriteString(pool[rng.IntN(len(pool))])
		b.WriteString("\n\n")
	}
	return b.Bytes()
}

func countChunks(ctx context.Context, r *rig) (int, error) {
	var n int
	if err := r.p.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count chunks: %w", err)
	}
	return n, nil
}

// waitIngested waits until no document is queued or processing. More failed
// documents than the corpus's own failedBefore is an error: synthetic documents
// are plain text and must all be ingested.
func waitIngested(ctx context.Context, r *rig, failedBefore int) error {
	deadline := time.Now().Add(fillTimeout)
	for {
		var pending, failed int
		err := r.p.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status IN ('queued', 'processing')),
			count(*) FILTER (WHERE status = 'failed') FROM documents`).Scan(&pending, &failed)
		if err != nil {
			return fmt.Errorf("poll documents: %w", err)
		}
		if failed > failedBefore {
			return fmt.Errorf("%d synthetic documents failed", failed-failedBefore)
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d documents still processing after %s", pending, fillTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(fillPollEvery): // polling interval
		}
	}
}

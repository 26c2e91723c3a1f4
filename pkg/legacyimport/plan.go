package legacyimport

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/youworker/youworker/pkg/parse"
	"github.com/youworker/youworker/pkg/service"
	"github.com/youworker/youworker/pkg/store"
)

// The plan is what a run will do, row by row, decided from the legacy rows and
// from what earlier runs imported. A dry run reports it; a real run carries it out.

type userPlan struct {
	src  legacyUser
	name string
	// hash is the legacy key's SHA-256; nil when there is none to carry over.
	hash   []byte
	target string
}

type memberPlan struct {
	user     int64
	role     string
	joinedAt time.Time
}

type groupPlan struct {
	src         legacyGroup
	name        string
	description string
	members     []memberPlan
	// skip: a group without members is not imported (nobody could administer it).
	skip   bool
	target string
}

type sessionPlan struct {
	src   legacySession
	title string
}

type docMode int

const (
	modeFile docMode = iota // re-ingest the file from the upload root
	modeText                // rebuild from the chunk texts of the legacy collection
	modeSkip                // neither is available
)

type docPlan struct {
	src      legacyDocument
	mode     docMode
	file     string // modeFile: the file under the upload root
	filename string
	tags     []string
	chunks   []chunkRef
	// group is the legacy group the document keeps; nil for none.
	group *int64
}

type plan struct {
	report    Report
	users     []*userPlan // to import
	userByID  map[int64]*userPlan
	groups    []*groupPlan // to import
	groupByID map[int64]*groupPlan
	sessions  []*sessionPlan // to import
	docs      []*docPlan     // to import
	// mappedDocs are the documents earlier runs imported (to finish any they left
	// half done).
	mappedDocs map[int64]string
}

// units is how many rows the plan imports, for progress.
func (p *plan) units() int64 {
	return int64(len(p.users) + len(p.groups) + len(p.sessions) + len(p.docs))
}

func (im *importer) plan(ctx context.Context) (*plan, error) {
	p := &plan{userByID: map[int64]*userPlan{}, groupByID: map[int64]*groupPlan{}}
	r := &p.report
	r.Source, r.Collection, r.DryRun = im.src.where, im.opts.collection(), im.opts.DryRun
	r.Problems, r.Blocking = []Problem{}, []string{}
	fp, err := im.src.fingerprint(ctx)
	if err != nil {
		return nil, err
	}
	r.Fingerprint = fp
	if err := im.checkSource(ctx, r); err != nil {
		return nil, err
	}
	for _, step := range []func(context.Context, *plan) error{im.planUsers, im.planGroups, im.planChats, im.planDocuments} {
		if err := step(ctx, p); err != nil {
			return nil, err
		}
	}
	if r.History, err = im.src.history(ctx); err != nil {
		return nil, err
	}
	if n := r.History["audit_logs"]; n > 0 {
		r.problem("audit log", 0, "%d legacy audit log entries are not imported; keep a dump of the legacy database if you need them", n)
	}
	return p, nil
}

// checkSource refuses to mix two legacy deployments: their integer ids overlap, so
// the mappings of one would hide rows of the other.
func (im *importer) checkSource(ctx context.Context, r *Report) error {
	jobs, err := im.t.Store.LegacyImportJobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if fp, _ := j.Params["fingerprint"].(string); fp != "" && fp != r.Fingerprint {
			r.Blocking = append(r.Blocking, fmt.Sprintf("this platform holds an import of another legacy deployment (fingerprint %s, job %s); "+
				"one platform imports one legacy deployment", fp, j.ID))
			return nil
		}
	}
	return nil
}

func (im *importer) planUsers(ctx context.Context, p *plan) error {
	st, r := im.t.Store, &p.report
	mapped, err := st.LegacyTargets(ctx, store.LegacyUser)
	if err != nil {
		return err
	}
	users, err := im.src.users(ctx)
	if err != nil {
		return err
	}
	taken := newNames(st.UserNameTaken, 64)
	keyOwner := map[string]int64{}
	for _, u := range users {
		up := &userPlan{src: u, target: mapped[u.ID]}
		p.userByID[u.ID] = up
		if up.target != "" {
			r.Already.Users++
			continue
		}
		base := userNameBase(u.Username, u.ID)
		if up.name, err = taken.claim(ctx, base); err != nil {
			return err
		}
		switch {
		case base != u.Username:
			r.problem("user", u.ID, "%q is not a valid user name here (1-64 letters, digits, '.', '_' or '-'): imported as %q", u.Username, up.name)
		case up.name != base:
			r.problem("user", u.ID, "the name %q is taken here: imported as %q", u.Username, up.name)
		}
		hexHash := strings.ToLower(strings.TrimSpace(deref(u.APIKeyHash)))
		hash, herr := hex.DecodeString(hexHash)
		switch {
		case hexHash == "":
			r.problem("user", u.ID, "%q had no API key: give them one with `api keys rotate --name %s`", u.Username, up.name)
		case herr != nil || len(hash) != 32:
			r.problem("user", u.ID, "the API key hash of %q is not a SHA-256 digest, so their key cannot be carried over: give them one with `api keys rotate --name %s`", u.Username, up.name)
		case keyOwner[hexHash] != 0:
			r.problem("user", u.ID, "%q has the same API key as user %d, for whom alone it keeps working: give %q one with `api keys rotate --name %s`",
				u.Username, keyOwner[hexHash], u.Username, up.name)
		default:
			if _, err := st.LegacyCredentialUser(ctx, hash); err == nil {
				r.problem("user", u.ID, "the API key of %q is already the legacy key of a user here: give them one with `api keys rotate --name %s`", u.Username, up.name)
				break
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			keyOwner[hexHash] = u.ID
			up.hash = hash
			r.ToImport.LegacyKeys++
		}
		r.ToImport.Users++
		p.users = append(p.users, up)
	}
	return nil
}

func (im *importer) planGroups(ctx context.Context, p *plan) error {
	st, r := im.t.Store, &p.report
	mapped, err := st.LegacyTargets(ctx, store.LegacyGroup)
	if err != nil {
		return err
	}
	groups, err := im.src.groups(ctx)
	if err != nil {
		return err
	}
	members, err := im.src.members(ctx)
	if err != nil {
		return err
	}
	byGroup := map[int64][]legacyMember{}
	for _, m := range members {
		byGroup[m.GroupID] = append(byGroup[m.GroupID], m)
	}
	taken := newNames(func(ctx context.Context, name string) (bool, error) { return st.GroupNameTaken(ctx, name, "") }, 100)
	for _, g := range groups {
		gp := &groupPlan{src: g, target: mapped[g.ID]}
		p.groupByID[g.ID] = gp
		if gp.target != "" {
			r.Already.Groups++
			continue
		}
		admins := 0
		for _, m := range byGroup[g.ID] {
			if p.userByID[m.UserID] == nil {
				continue // the legacy schema cascades, so this does not happen
			}
			role := strings.ToLower(strings.TrimSpace(m.Role))
			if role != store.RoleAdmin && role != store.RoleMember {
				r.problem("membership", g.ID, "user %d has the role %q in group %q, which is not a role here: imported as a member", m.UserID, m.Role, g.Name)
				role = store.RoleMember
			}
			if role == store.RoleAdmin {
				admins++
			}
			gp.members = append(gp.members, memberPlan{user: m.UserID, role: role, joinedAt: m.JoinedAt})
		}
		if len(gp.members) == 0 {
			gp.skip = true
			r.problem("group", g.ID, "%q has no members, so nobody could administer it here: not imported; its documents go to their owners' personal groups", g.Name)
			continue
		}
		if admins == 0 {
			// Every group here has an admin (the last one cannot leave): the
			// longest-standing member becomes it, as when a last admin leaves.
			gp.members[0].role = store.RoleAdmin
			r.problem("group", g.ID, "%q has no admin: its longest-standing member, user %d, becomes its admin", g.Name, gp.members[0].user)
		}
		gp.description = deref(g.Description)
		if utf8.RuneCountInString(gp.description) > maxDescriptionRunes {
			gp.description = truncateRunes(gp.description, maxDescriptionRunes-1) + "…"
			r.problem("group", g.ID, "the description of %q is longer than %d characters and is shortened", g.Name, maxDescriptionRunes)
		}
		base := groupNameBase(g.Name, g.ID)
		if gp.name, err = taken.claim(ctx, base); err != nil {
			return err
		}
		if gp.name != g.Name {
			r.problem("group", g.ID, "%q is imported as %q (names here are unique and at most 100 characters)", g.Name, gp.name)
		}
		r.ToImport.Groups++
		r.ToImport.Memberships += len(gp.members)
		p.groups = append(p.groups, gp)
	}
	return nil
}

// The longest chat title and group description here.
const (
	maxTitleRunes       = 200
	maxDescriptionRunes = 2000
)

func (im *importer) planChats(ctx context.Context, p *plan) error {
	r := &p.report
	mapped, err := im.t.Store.LegacyTargets(ctx, store.LegacySession)
	if err != nil {
		return err
	}
	sessions, err := im.src.sessions(ctx)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if mapped[s.ID] != "" {
			r.Already.Sessions++
			continue
		}
		if p.userByID[s.UserID] == nil {
			continue // the legacy schema cascades, so this does not happen
		}
		sp := &sessionPlan{src: s, title: strings.TrimSpace(deref(s.Title))}
		if utf8.RuneCountInString(sp.title) > maxTitleRunes {
			sp.title = truncateRunes(sp.title, maxTitleRunes-1) + "…"
			r.problem("session", s.ID, "its title is longer than %d characters and is shortened", maxTitleRunes)
		}
		r.ToImport.Sessions++
		p.sessions = append(p.sessions, sp)
	}
	// Read every message still to import once, as the import will: to count them
	// and to find those that do not decrypt before anything is written.
	var cur int64 = -1
	var batch []legacyMessage
	flush := func() {
		if cur < 0 || mapped[cur] != "" {
			return
		}
		c := im.buildChat(batch)
		r.ToImport.Messages += c.messages
		r.ToImport.Turns += c.turns
		r.Messages.add(c.counts)
		for role, n := range c.otherRoles {
			r.problem("session", cur, "%d messages with the role %q are not imported (only user and assistant messages are)", n, role)
		}
	}
	err = im.src.eachMessage(ctx, func(m legacyMessage) error {
		if m.SessionID != cur {
			flush()
			cur, batch = m.SessionID, batch[:0]
		}
		batch = append(batch, m)
		return nil
	})
	if err != nil {
		return err
	}
	flush()
	if n := r.Messages.Undecryptable; n > 0 {
		why := "do not decrypt with the --message-secret given"
		if len(im.dec.keys) == 0 {
			why = "are encrypted, and no --message-secret was given"
		}
		if im.opts.AllowUndecryptable {
			r.problem("message", 0, "%d messages %s: imported as a placeholder saying so", n, why)
		} else {
			r.Blocking = append(r.Blocking, fmt.Sprintf("%d messages %s (the legacy deployment's CHAT_MESSAGE_ENCRYPTION_SECRET, "+
				"else its JWT_SECRET, else its ROOT_API_KEY); give the right secret, or --allow-undecryptable to import them as a placeholder", n, why))
		}
	}
	if r.Messages.Empty > 0 {
		r.problem("message", 0, "%d messages have no content and are not imported", r.Messages.Empty)
	}
	return nil
}

func (m *MessageCounts) add(o MessageCounts) {
	m.Decrypted += o.Decrypted
	m.Plain += o.Plain
	m.Undecryptable += o.Undecryptable
	m.Empty += o.Empty
	m.OtherRole += o.OtherRole
}

func (im *importer) planDocuments(ctx context.Context, p *plan) error {
	r := &p.report
	mapped, err := im.t.Store.LegacyTargets(ctx, store.LegacyDocument)
	if err != nil {
		return err
	}
	p.mappedDocs = mapped
	docs, err := im.src.documents(ctx)
	if err != nil {
		return err
	}
	ix, err := scanCollection(ctx, im.vs, im.opts.collection(), docs)
	if err != nil {
		return err
	}
	r.Points = ix.points
	if ix.orphans > 0 {
		r.problem("collection", 0, "%d points belong to no legacy document and are not imported", ix.orphans)
	}
	if ix.ambiguous > 0 {
		r.problem("collection", 0, "%d points name no owner and a path several documents share, so they are not imported", ix.ambiguous)
	}
	for _, d := range docs {
		if mapped[d.ID] != "" {
			r.Already.Documents++
			continue
		}
		if p.userByID[d.UserID] == nil {
			continue // the legacy schema cascades, so this does not happen
		}
		dp := &docPlan{src: d, chunks: ix.byDoc[d.ID], filename: filenameOf(d)}
		if d.GroupID != nil {
			if gp := p.groupByID[*d.GroupID]; gp == nil || gp.skip {
				r.problem("document", d.ID, "its group %d is not imported: it goes to its owner's personal group", *d.GroupID)
			} else {
				dp.group = d.GroupID
			}
		}
		dp.tags = im.tagsOf(r, d)
		if n := ix.duplicates[d.ID]; n > 0 {
			r.problem("document", d.ID, "%d points of an earlier ingestion of %s are left out; the latest ingestion's are kept", n, dp.filename)
		}
		dp.mode = modeText
		if im.opts.Uploads != "" {
			file, why := im.findFile(d)
			switch {
			case why == "":
				dp.mode, dp.file = modeFile, file
			case len(dp.chunks) > 0:
				r.problem("document", d.ID, "%s; it is rebuilt from the text of its %d chunks in the search index", why, len(dp.chunks))
			}
		}
		if dp.mode == modeText && len(dp.chunks) == 0 {
			dp.mode = modeSkip
			what := "it has no chunks in the search index"
			if im.opts.Uploads != "" {
				_, why := im.findFile(d)
				what = why + ", and " + what
			}
			r.problem("document", d.ID, "%s (%s): not imported", what, dp.filename)
			continue
		}
		r.ToImport.Documents++
		if dp.mode == modeFile {
			r.ToImport.FromFiles++
		} else {
			r.ToImport.FromText++
			r.ToImport.Chunks += len(dp.chunks)
		}
		p.docs = append(p.docs, dp)
	}
	return nil
}

// tagsOf keeps the legacy tags that are valid here.
func (im *importer) tagsOf(r *Report, d legacyDocument) []string {
	tags := []string{}
	seen := map[string]bool{}
	for _, t := range d.Tags {
		t = strings.TrimSpace(t)
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		if utf8.RuneCountInString(t) > service.MaxTagRunes || strings.IndexFunc(t, unicode.IsControl) >= 0 {
			r.problem("document", d.ID, "its tag %q is longer than %d characters or has control characters: left out", t, service.MaxTagRunes)
			continue
		}
		if len(tags) == service.MaxTags {
			r.problem("document", d.ID, "it has more than %d tags: %q and the rest are left out", service.MaxTags, t)
			break
		}
		tags = append(tags, t)
	}
	return tags
}

// findFile looks for a legacy document's file under the upload root. The legacy
// path is where the file was on the legacy host (its upload root, then run-…/name),
// so the longest tail of it that exists under the root is the file; a bare file
// name is not enough, since another run may have uploaded a file of the same name.
// why says what is wrong when there is no file to re-ingest.
func (im *importer) findFile(d legacyDocument) (file, why string) {
	p := strings.ReplaceAll(deref(d.Path), `\`, "/")
	if p == "" {
		return "", "it has no file path"
	}
	root, err := filepath.Abs(im.opts.Uploads)
	if err != nil {
		return "", fmt.Sprintf("the upload root cannot be resolved: %v", err)
	}
	var parts []string
	for _, part := range strings.Split(p, "/") {
		if part != "" && part != "." && part != ".." {
			parts = append(parts, part)
		}
	}
	least := min(2, len(parts))
	for i := 0; i <= len(parts)-least && len(parts) > 0; i++ {
		cand := filepath.Join(append([]string{root}, parts[i:]...)...)
		if rel, err := filepath.Rel(root, cand); err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		info, err := os.Stat(cand)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		f, err := os.Open(cand)
		if err != nil {
			return "", fmt.Sprintf("its file %s cannot be read: %v", cand, err)
		}
		_, derr := parse.Detect(f, info.Size(), cand)
		f.Close()
		if derr != nil {
			return "", fmt.Sprintf("its file %s cannot be parsed here (%s)", cand, detectText(derr))
		}
		return cand, ""
	}
	return "", fmt.Sprintf("its file %s is not under --uploads", p)
}

func detectText(err error) string {
	var pe *parse.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// filenameOf names a document as its owner knew it: the base name of its path,
// else of its URL, else its host.
func filenameOf(d legacyDocument) string {
	name := ""
	if p := strings.ReplaceAll(deref(d.Path), `\`, "/"); p != "" {
		name = path.Base(p)
		if u, err := url.PathUnescape(name); err == nil {
			name = u
		}
	}
	if (name == "" || name == "." || name == "/") && deref(d.URI) != "" {
		if u, err := url.Parse(deref(d.URI)); err == nil {
			name = path.Base(u.Path)
			if name == "" || name == "." || name == "/" {
				name = u.Host
			}
		}
	}
	name = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name))
	if name == "" || name == "." || name == "/" || name == ".." {
		name = fmt.Sprintf("document-%d", d.ID)
	}
	return truncateRunes(name, 255)
}

// formatOf is the format a document rebuilt from text records: the one its MIME
// type names, else plain text.
func formatOf(mime string) parse.Format {
	mime = strings.ToLower(strings.TrimSpace(strings.Split(mime, ";")[0]))
	for _, f := range []parse.Format{parse.FormatPDF, parse.FormatDOCX, parse.FormatPPTX, parse.FormatXLSX, parse.FormatODT,
		parse.FormatRTF, parse.FormatEPUB, parse.FormatEML, parse.FormatHTML, parse.FormatMarkdown, parse.FormatCSV, parse.FormatText} {
		if mime != "" && f.MIME() == mime {
			return f
		}
	}
	return parse.FormatText
}

package service

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
)

// DataRights lets people take their data with them and erase their history. It
// goes through the other services with the caller's own principal, so an export
// holds exactly what the caller could read through the API, and nothing more.
type DataRights struct {
	store     *store.Store
	documents *Documents
	chat      *Chat
	groups    *Groups
	audit     *Auditor
	now       func() time.Time
}

// NewDataRights returns the data-rights service over the other services.
func NewDataRights(st *store.Store, documents *Documents, chat *Chat, groups *Groups, audit *Auditor) *DataRights {
	return &DataRights{store: st, documents: documents, chat: chat, groups: groups, audit: audit, now: time.Now}
}

// ExportManifest is the manifest.json of an export: what the archive holds and
// where in it.
type ExportManifest struct {
	Format     string           `json:"format"`
	ExportedAt time.Time        `json:"exported_at"`
	User       ExportUser       `json:"user"`
	Documents  []ExportDocument `json:"documents"`
	Chats      []ExportChatRef  `json:"chats"`
	// Groups are the groups the user administers, with their members.
	Groups []GroupDetail `json:"groups"`
}

// ExportUser is who the export belongs to.
type ExportUser struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	IsAdmin bool   `json:"is_admin"`
}

// ExportDocument is a document the user owns and the file in the archive with the
// bytes as uploaded (for a document imported without its file, its text).
type ExportDocument struct {
	Document
	File string `json:"file"`
}

// ExportChatRef is one chat and the file in the archive that holds it.
type ExportChatRef struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	File  string `json:"file"`
}

// ExportChat is one chat as exported: its messages and, for each question, the
// turn that answered it with its citations and tool calls.
type ExportChat struct {
	Session  Session         `json:"session"`
	Messages []ExportMessage `json:"messages"`
}

// ExportMessage is a message with the turn it belongs to.
type ExportMessage struct {
	Message
	Turn *Turn `json:"turn,omitempty"`
}

// exportFormat names the archive's layout, for whoever reads it back.
const exportFormat = "youworker-export-1"

// subject is whom a data-rights request is about: the caller themself (userID ""
// or their own id, with whatever narrowing their key carries), or, for admins, any
// user, as that user sees the platform. Everybody else gets not_found, like every
// admin route.
func (d *DataRights) subject(ctx context.Context, actor access.Principal, userID string) (access.Principal, error) {
	if !actor.IsUser() && userID == "" {
		return access.Principal{}, errAdminOnly
	}
	if userID == "" || userID == actor.UserID {
		return actor, nil
	}
	if err := access.RequireAdmin(actor); err != nil {
		return access.Principal{}, denied(err, errAdminOnly, nil)
	}
	user, err := d.store.GetUser(ctx, userID)
	if err != nil {
		return access.Principal{}, notFoundAs(err, "user")
	}
	groups, err := d.store.GroupIDsOf(ctx, user.ID)
	if err != nil {
		return access.Principal{}, err
	}
	return access.Principal{UserID: user.ID, Name: user.Name, IsAdmin: user.IsAdmin, GroupIDs: groups}, nil
}

// Export writes a zip of everything user userID owns to w ("" means the caller;
// admins may name anyone): manifest.json, the documents as uploaded under
// documents/, each chat as JSON under chats/. It streams: nothing is held in
// memory but one file at a time.
func (d *DataRights) Export(ctx context.Context, actor access.Principal, userID string, w io.Writer) error {
	p, err := d.subject(ctx, actor, userID)
	if err != nil {
		return err
	}
	user, err := d.store.GetUser(ctx, p.UserID)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	m := ExportManifest{Format: exportFormat, ExportedAt: d.now().UTC(),
		User: ExportUser{ID: user.ID, Name: user.Name, IsAdmin: user.IsAdmin}, Documents: []ExportDocument{}, Chats: []ExportChatRef{}, Groups: []GroupDetail{}}
	zw := zip.NewWriter(w)

	docs, err := d.ownedDocuments(ctx, p)
	if err != nil {
		return err
	}
	for _, doc := range docs {
		if doc.SHA256 == "" {
			// Added from a URL and not fetched yet: there are no bytes to hand over.
			m.Documents = append(m.Documents, ExportDocument{Document: doc})
			continue
		}
		file := path.Join("documents", doc.ID+"-"+safeArchiveName(doc.Filename))
		if !doc.OriginalAvailable {
			// Imported without its file: what the platform holds is its text.
			file += ".recovered.txt"
			if err := d.exportText(ctx, zw, doc, file); err != nil {
				return err
			}
		} else if err := d.exportDocument(ctx, p, zw, doc, file); err != nil {
			return err
		}
		m.Documents = append(m.Documents, ExportDocument{Document: doc, File: file})
	}

	for cursor := ""; ; {
		page, err := d.chat.ListSessions(ctx, p, 100, cursor)
		if err != nil {
			return err
		}
		for _, s := range page.Items {
			file := path.Join("chats", s.ID+".json")
			if err := d.exportChat(ctx, p, zw, s.ID, file); err != nil {
				return err
			}
			m.Chats = append(m.Chats, ExportChatRef{ID: s.ID, Title: s.Title, File: file})
		}
		if page.Next == nil {
			break
		}
		cursor = *page.Next
	}

	groups, err := d.groups.List(ctx, p)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if g.Role != store.RoleAdmin {
			continue
		}
		detail, err := d.groups.Get(ctx, p, g.ID)
		if err != nil {
			return err
		}
		m.Groups = append(m.Groups, detail)
	}

	if err := writeJSONFile(zw, "manifest.json", m); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	d.audit.Record(ctx, nil, actor, "user.export", "user", p.UserID, OutcomeSuccess,
		map[string]any{"documents": len(m.Documents), "chats": len(m.Chats)})
	return nil
}

// ownedDocuments lists every document the caller owns (those of others the caller
// can read through a group are theirs to export, not the caller's).
func (d *DataRights) ownedDocuments(ctx context.Context, p access.Principal) ([]Document, error) {
	var owned []Document
	for cursor := ""; ; {
		page, err := d.documents.List(ctx, p, ListOptions{Limit: 100, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, doc := range page.Items {
			if doc.OwnerID == p.UserID {
				owned = append(owned, doc)
			}
		}
		if page.Next == nil {
			return owned, nil
		}
		cursor = *page.Next
	}
}

func (d *DataRights) exportDocument(ctx context.Context, p access.Principal, zw *zip.Writer, doc Document, file string) error {
	_, rc, err := d.documents.Content(ctx, p, doc.ID)
	if err != nil {
		return fmt.Errorf("export document %s: %w", doc.ID, err)
	}
	defer rc.Close()
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: file, Method: zip.Deflate, Modified: doc.CreatedAt})
	if err != nil {
		return fmt.Errorf("export document %s: %w", doc.ID, err)
	}
	if _, err := io.Copy(fw, rc); err != nil {
		return fmt.Errorf("export document %s: %w", doc.ID, err)
	}
	return nil
}

// exportText writes the chunks of a document that has no original bytes, in order,
// as one text file.
func (d *DataRights) exportText(ctx context.Context, zw *zip.Writer, doc Document, file string) error {
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: file, Method: zip.Deflate, Modified: doc.CreatedAt})
	if err != nil {
		return fmt.Errorf("export document %s: %w", doc.ID, err)
	}
	const page = 200
	for from := 0; ; from += page {
		chunks, err := d.store.ListChunks(ctx, doc.ID, from, page)
		if err != nil {
			return fmt.Errorf("export document %s: %w", doc.ID, err)
		}
		for _, c := range chunks {
			if _, err := io.WriteString(fw, c.Text+"\n\n"); err != nil {
				return fmt.Errorf("export document %s: %w", doc.ID, err)
			}
		}
		if len(chunks) < page {
			return nil
		}
	}
}

func (d *DataRights) exportChat(ctx context.Context, p access.Principal, zw *zip.Writer, sessionID, file string) error {
	s, err := d.chat.GetSession(ctx, p, sessionID)
	if err != nil {
		return err
	}
	chat := ExportChat{Session: s.Session, Messages: make([]ExportMessage, 0, len(s.Messages))}
	for _, msg := range s.Messages {
		em := ExportMessage{Message: msg}
		if msg.TurnID != nil && msg.Role == "user" {
			t, err := d.chat.GetTurn(ctx, p, *msg.TurnID)
			if err != nil {
				return err
			}
			em.Turn = &t
		}
		chat.Messages = append(chat.Messages, em)
	}
	return writeJSONFile(zw, file, chat)
}

func writeJSONFile(zw *zip.Writer, name string, v any) error {
	fw, err := zw.Create(name)
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	enc := json.NewEncoder(fw)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	return nil
}

// safeArchiveName keeps a file name inside its folder of the archive: no path
// separators, no parent references, nothing unprintable.
func safeArchiveName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		return "document"
	}
	return name
}

// PurgeChats deletes every chat of user userID ("" means the caller; admins may
// name anyone) with its messages and turns.
func (d *DataRights) PurgeChats(ctx context.Context, actor access.Principal, userID string) error {
	p, err := d.subject(ctx, actor, userID)
	if err != nil {
		return err
	}
	return d.store.InTx(ctx, func(st *store.Store) error {
		n, err := st.DeleteSessionsOf(ctx, p.UserID)
		if err != nil {
			return err
		}
		d.audit.Record(ctx, st, actor, "chat.purge", "user", p.UserID, OutcomeSuccess, map[string]any{"sessions": n})
		return nil
	})
}

package legacytest

import "testing"

// Standard is a small deployment with the cases an import must get right: users
// whose names do not fit the rules here, keys long and short and missing, groups
// without an admin and without members, an encrypted chat (by fernet-go and by
// Python) with a plain-text legacy message, two sessions with the same
// external_id, a message of another role, documents with and without a file,
// with and without a group, private, tagged, re-ingested once, and one of which
// nothing is left; an orphan point, and history rows.
type Standard struct {
	*Deployment

	Alice, Bob, Carol, Dave int64
	// AliceKey and BobKey are long enough to become keys of the current format at
	// their first use; CarolKey is shorter and stays a legacy credential.
	AliceKey, BobKey, CarolKey string

	Engineering, Sales, OldProject int64

	// SessionAlice and SessionBob share their external_id; SessionTool has a tool
	// message.
	SessionAlice, SessionBob, SessionTool int64

	// Handbook (alice, Engineering, file available, tagged), Notes (alice, no
	// group, text only, re-ingested once), Salaries (bob, Engineering, private,
	// text only), Pipeline (carol, Sales, text only), Archive (bob, in the group
	// without members, text only), Lost (dave, nothing left).
	Handbook, Notes, Salaries, Pipeline, Archive, Lost int64
}

// Words found only in one document each, to search for.
const (
	HandbookWord = "heliotrope"
	NotesWord    = "zeppelin"
	SalariesWord = "marzipan"
	PipelineWord = "quokka"
	ArchiveWord  = "obsidian"
)

// Messages of alice's session, as they read after decryption, in order.
var AliceChat = []string{"What were the Q3 numbers?", "Revenue grew 12% in Q3.", "thanks — and Q4? (stored in plain text)", PythonText}

// NewStandard builds the Standard deployment.
func NewStandard(t testing.TB) *Standard {
	t.Helper()
	d := New(t)
	s := &Standard{Deployment: d,
		AliceKey: "alice-legacy-key-0123456789abcdef", BobKey: "bob-legacy-key-0123456789abcdefgh", CarolKey: "carol-pw"}
	s.Alice = d.User("alice", true, s.AliceKey)
	s.Bob = d.User("bob", false, s.BobKey)
	s.Carol = d.User("carol smith", false, s.CarolKey)
	s.Dave = d.User("dave", false, "")

	s.Engineering = d.Group("Engineering", "Builds the product")
	d.Member(s.Alice, s.Engineering, "admin")
	d.Member(s.Bob, s.Engineering, "member")
	s.Sales = d.Group("Sales", "")
	d.Member(s.Carol, s.Sales, "member")
	d.Member(s.Dave, s.Sales, "member")
	s.OldProject = d.Group("Old project", "Nobody is left here")

	s.SessionAlice = d.Session(s.Alice, "chat-1", "Quarterly numbers", "llama3.1", true)
	d.Message(s.SessionAlice, "user", d.Encrypt(AliceChat[0]), nil, nil)
	d.Message(s.SessionAlice, "assistant", d.Encrypt(AliceChat[1]), Int(42), Int(9))
	d.Message(s.SessionAlice, "user", []byte(AliceChat[2]), nil, nil)
	d.Message(s.SessionAlice, "assistant", []byte(PythonToken), nil, nil)
	s.SessionBob = d.Session(s.Bob, "chat-1", "", "mistral", false)
	d.Message(s.SessionBob, "assistant", d.Encrypt("Welcome, Bob."), nil, nil)
	d.Message(s.SessionBob, "user", d.Encrypt("Is anybody there?"), nil, nil)
	s.SessionTool = d.Session(s.Alice, "chat-2", "Weather", "llama3.1", true)
	d.Message(s.SessionTool, "user", d.Encrypt("Weather in Milan?"), nil, nil)
	d.Message(s.SessionTool, "tool", d.Encrypt(`{"temp": 21}`), nil, nil)
	d.Message(s.SessionTool, "assistant", d.Encrypt("Sunny, 21 degrees."), nil, nil)

	s.Handbook = d.Document(Doc{User: s.Alice, Group: s.Engineering, Name: "handbook.txt", MIME: "text/plain", Tags: []string{"hr", "policy"},
		File:   []byte("Employee handbook.\n\nOur mascot is the " + HandbookWord + " flower; holidays are in August.\n"),
		Chunks: []string{"Employee handbook.", "Our mascot is the " + HandbookWord + " flower; holidays are in August."}})
	s.Notes = d.Document(Doc{User: s.Alice, Name: "notes.md", MIME: "text/markdown",
		Chunks:      []string{"# Notes", "The " + NotesWord + " launch moves to May.", "Budget approved."},
		StaleChunks: []string{"# Notes (draft)", "stale draft text", "older", "and a fourth chunk the new version lacks"}})
	s.Salaries = d.Document(Doc{User: s.Bob, Group: s.Engineering, Private: true, Name: "salaries.pdf", MIME: "application/pdf",
		Chunks: []string{"Salary bands, confidential: " + SalariesWord + " grade pays the most."}})
	s.Pipeline = d.Document(Doc{User: s.Carol, Group: s.Sales, Name: "pipeline.xlsx",
		MIME:   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		Chunks: []string{"Deal with " + PipelineWord + " Ltd closes in June."}})
	s.Archive = d.Document(Doc{User: s.Bob, Group: s.OldProject, Name: "archive.txt", MIME: "text/plain",
		Chunks: []string{"The " + ArchiveWord + " project ended in 2023."}})
	s.Lost = d.Document(Doc{User: s.Dave, Name: "lost.docx", MIME: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"})
	d.OrphanPoint(s.Alice, "a chunk whose document row was never written")
	d.History(s.Alice)
	return s
}

// Package job defines the work that travels through the queue: the subject
// of each job kind, its payload (ids only, never document bytes or prompts),
// a stable message id per payload so JetStream drops duplicate publishes, and
// the control errors a handler returns to tell the queue whether to retry.
//
// Producers (the API, the reindexer CLI) and handlers (the workers) both
// import this package; neither imports the other.
package job

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Subjects of the job kinds. They all live under "jobs.>" so one work-queue
// stream holds every job; each worker kind consumes a subset.
const (
	// SubjectIngest asks the ingest worker to process an uploaded document.
	SubjectIngest = "jobs.ingest"
	// SubjectDelete asks the ingest worker to purge a deleted document's
	// vectors, chunks and bytes.
	SubjectDelete = "jobs.delete"
	// SubjectChat asks the agent worker to run one chat turn.
	SubjectChat = "jobs.chat"
	// SubjectReindex asks the reindexer to run an operator re-index job.
	SubjectReindex = "jobs.reindex"
	// SubjectACL asks the reindexer to sync one document's vector payload
	// with its access fields in Postgres.
	SubjectACL = "jobs.acl"
)

// Args is the payload of one job kind. It names its own subject and message id,
// so a producer hands the outbox one value and cannot pair a payload with another
// kind's subject or id.
type Args interface {
	// Subject is the queue subject the job travels on.
	Subject() string
	// MsgID identifies this run of the job: JetStream drops a second publish with
	// the same id, so the outbox may publish at least once.
	MsgID() string
}

// IngestJob is the payload of SubjectIngest. Generation is the document's upload
// generation: a deliberate re-run (a retry of a failed document) bumps it and so
// gets a new message id, while a double publish of the same run is dropped.
type IngestJob struct {
	DocumentID string `json:"document_id"`
	Generation int    `json:"generation"`
}

func (IngestJob) Subject() string { return SubjectIngest }
func (j IngestJob) MsgID() string {
	return "ingest:" + j.DocumentID + ":" + strconv.Itoa(j.Generation)
}

// DeleteJob is the payload of SubjectDelete. OwnerID travels with it because
// the document row may already be gone or anonymised when the job runs.
type DeleteJob struct {
	DocumentID string `json:"document_id"`
	OwnerID    string `json:"owner_id"`
}

func (DeleteJob) Subject() string { return SubjectDelete }

// MsgID is the document's id alone: a document is deleted at most once.
func (j DeleteJob) MsgID() string { return "delete:" + j.DocumentID }

// ChatJob is the payload of SubjectChat.
type ChatJob struct {
	TurnID string `json:"turn_id"`
}

func (ChatJob) Subject() string { return SubjectChat }

// MsgID is the turn's id alone: a turn is queued once (a regenerated answer is
// a new turn).
func (j ChatJob) MsgID() string { return "chat:" + j.TurnID }

// ReindexJob is the payload of SubjectReindex.
type ReindexJob struct {
	JobID string `json:"job_id"`
}

func (ReindexJob) Subject() string { return SubjectReindex }

// MsgID is the job's id alone: a re-index job is queued once when it is created;
// a worker that stops mid-way gets the same message again and resumes from the
// job's checkpoint, and an operator who wants another run starts a new job.
func (j ReindexJob) MsgID() string { return "reindex:" + j.JobID }

// ACLJob is the payload of SubjectACL. Version is the document's ACL version
// at publish time; a handler that finds a newer version in Postgres syncs that
// one instead, so stale jobs are harmless.
type ACLJob struct {
	DocumentID string `json:"document_id"`
	Version    int64  `json:"version"`
}

func (ACLJob) Subject() string { return SubjectACL }

// MsgID is one per document and ACL version, so two changes in a row are both
// synced.
func (j ACLJob) MsgID() string {
	return "acl:" + j.DocumentID + ":" + strconv.FormatInt(j.Version, 10)
}

// Encode marshals a payload to JSON for publishing.
func Encode(v Args) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode job %T: %w", v, err)
	}
	return b, nil
}

// Decode unmarshals a payload. A payload that does not decode can never
// succeed, so the error is Permanent: the queue dead-letters it at once
// instead of retrying it MaxDeliver times.
func Decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return Permanent(fmt.Errorf("decode job %T: %w", v, err))
	}
	return nil
}

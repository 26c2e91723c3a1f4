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

// IngestJob is the payload of SubjectIngest.
type IngestJob struct {
	DocumentID string `json:"document_id"`
}

// IngestMsgID returns the message id of an ingest job. attempt distinguishes
// a deliberate re-run (a retry of a failed document) from an accidental
// double publish of the same run, which the stream drops.
func IngestMsgID(documentID string, attempt int) string {
	return "ingest:" + documentID + ":" + strconv.Itoa(attempt)
}

// DeleteJob is the payload of SubjectDelete. OwnerID travels with it because
// the document row may already be gone or anonymised when the job runs.
type DeleteJob struct {
	DocumentID string `json:"document_id"`
	OwnerID    string `json:"owner_id"`
}

// DeleteMsgID returns the message id of a delete job; a document is deleted
// at most once, so the id alone is enough.
func DeleteMsgID(documentID string) string {
	return "delete:" + documentID
}

// ChatJob is the payload of SubjectChat.
type ChatJob struct {
	TurnID string `json:"turn_id"`
}

// ChatMsgID returns the message id of a chat job; a turn runs once.
func ChatMsgID(turnID string) string {
	return "chat:" + turnID
}

// ReindexJob is the payload of SubjectReindex.
type ReindexJob struct {
	JobID string `json:"job_id"`
}

// ReindexMsgID returns the message id of a re-index job. attempt lets an
// operator resume the same job after it was cancelled or failed.
func ReindexMsgID(jobID string, attempt int) string {
	return "reindex:" + jobID + ":" + strconv.Itoa(attempt)
}

// ACLJob is the payload of SubjectACL. Version is the document's ACL version
// at publish time; a handler that finds a newer version in Postgres syncs that
// one instead, so stale jobs are harmless.
type ACLJob struct {
	DocumentID string `json:"document_id"`
	Version    int64  `json:"version"`
}

// ACLMsgID returns the message id of an ACL sync job: one per document and
// ACL version, so two changes in a row both get synced.
func ACLMsgID(documentID string, version int64) string {
	return "acl:" + documentID + ":" + strconv.FormatInt(version, 10)
}

// Encode marshals a payload to JSON for publishing.
func Encode(v any) ([]byte, error) {
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

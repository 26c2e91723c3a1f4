// Package queue is the only package that talks to NATS JetStream. It declares
// the streams, consumers and object store every program needs (Setup),
// publishes jobs with a stable message id so duplicates are dropped
// (Publisher), runs job handlers with acks, heartbeats, retries and a
// dead-letter stream (Run), keeps the replayable per-turn event log (Turns),
// stores uploaded files (Objects) and embeds a real nats-server for
// development and tests (StartEmbedded).
//
// Layout in JetStream:
//
//   - YW_JOBS: work-queue stream on "jobs.>". Each message is removed once a
//     consumer acknowledges it. Three durable pull consumers, one per worker
//     kind, shared by every replica of that worker: "ingest" (jobs.ingest,
//     jobs.delete), "chat" (jobs.chat) and "reindex" (jobs.reindex, jobs.acl).
//     One consumer per worker kind rather than per subject keeps a worker's
//     concurrency and MaxAckPending in one place; a work-queue stream requires
//     the consumers' filters not to overlap, which these do not.
//   - YW_TURNS: limits stream on "turns.>", one subject per chat turn
//     ("turns.<turn_id>"); the stream sequence is the SSE event id. Each API
//     process follows it live with one ordered consumer over "turns.>" while
//     it has readers, and replays with a consumer filtered on one turn only
//     what a reader missed before joining.
//   - YW_DLQ: limits stream on "dlq.>" holding a copy of every job that was
//     terminated or ran out of deliveries, under "dlq.<original subject>".
//   - yw_uploads: object store bucket for uploaded files, capped by
//     Config.UploadMaxBytes so uploads cannot take the storage turn events
//     and jobs need; when full it refuses new files (ErrStoreFull).
package queue

// Names of the JetStream resources declared by Setup.
const (
	// StreamJobs is the work-queue stream holding every job.
	StreamJobs = "YW_JOBS"
	// StreamTurns is the limits stream holding every chat turn's events.
	StreamTurns = "YW_TURNS"
	// StreamDLQ is the limits stream holding dead-lettered jobs.
	StreamDLQ = "YW_DLQ"
	// BucketUploads is the object store bucket for uploaded files.
	BucketUploads = "yw_uploads"
	// objectStream is the stream behind BucketUploads, objectChunksSubject the
	// subject of one object's chunks (bucket, object NUID) and objectMetaSubject
	// that of its description (bucket, base64url name): the layout of the
	// JetStream object store.
	objectStream        = "OBJ_" + BucketUploads
	objectChunksSubject = "$O.%s.C.%s"
	objectMetaSubject   = "$O.%s.M.%s"

	// ConsumerIngest is the durable consumer of the ingest workers.
	ConsumerIngest = "ingest"
	// ConsumerChat is the durable consumer of the agent workers.
	ConsumerChat = "chat"
	// ConsumerReindex is the durable consumer of the reindexers.
	ConsumerReindex = "reindex"

	// SubjectJobsAll matches every job subject.
	SubjectJobsAll = "jobs.>"
	// SubjectTurnsAll matches every turn event subject.
	SubjectTurnsAll = "turns.>"
	// SubjectDLQAll matches every dead-letter subject.
	SubjectDLQAll = "dlq.>"
	// SubjectDLQPrefix prefixes the original subject of a dead-lettered job.
	SubjectDLQPrefix = "dlq."
	// SubjectTurnPrefix prefixes a turn id to form its event subject.
	SubjectTurnPrefix = "turns."
)

// Message headers set by this package. JetStream's own headers (Nats-*) are
// set through the client library.
const (
	// HeaderEventType carries a turn event's type.
	HeaderEventType = "X-Event-Type"
	// HeaderDLQSubject is the subject a dead-lettered job was published on.
	HeaderDLQSubject = "X-DLQ-Subject"
	// HeaderDLQMsgID is the Nats-Msg-Id of the dead-lettered job.
	HeaderDLQMsgID = "X-DLQ-Msg-ID"
	// HeaderDLQReason is the error that dead-lettered the job.
	HeaderDLQReason = "X-DLQ-Reason"
	// HeaderDLQDeliveries is how many times the job was delivered.
	HeaderDLQDeliveries = "X-DLQ-Deliveries"
	// HeaderDLQStreamSeq is the job's sequence in StreamJobs.
	HeaderDLQStreamSeq = "X-DLQ-Stream-Seq"
	// HeaderDLQConsumer is the consumer that gave up on the job.
	HeaderDLQConsumer = "X-DLQ-Consumer"
)

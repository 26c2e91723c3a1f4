package job_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/job"
)

func TestControlErrors(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	tests := []struct {
		name      string
		err       error
		permanent bool
		delay     time.Duration
		hasDelay  bool
	}{
		{name: "plain", err: base},
		{name: "permanent", err: job.Permanent(base), permanent: true},
		{name: "wrapped permanent", err: fmt.Errorf("ctx: %w", job.Permanent(base)), permanent: true},
		{name: "permanent nil", err: job.Permanent(nil), permanent: true},
		{name: "retry after", err: job.RetryAfter(3*time.Second, base), delay: 3 * time.Second, hasDelay: true},
		{name: "wrapped retry after", err: fmt.Errorf("ctx: %w", job.RetryAfter(time.Second, base)), delay: time.Second, hasDelay: true},
		{name: "negative delay", err: job.RetryAfter(-time.Second, base), hasDelay: true},
		{name: "permanent wins", err: job.Permanent(job.RetryAfter(time.Second, base)), permanent: true},
		{name: "nil", err: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.permanent, job.IsPermanent(tt.err))
			d, ok := job.RetryDelay(tt.err)
			require.Equal(t, tt.hasDelay, ok)
			require.Equal(t, tt.delay, d)
		})
	}
}

func TestErrorsKeepCause(t *testing.T) {
	t.Parallel()
	require.Equal(t, "permanent failure", job.Permanent(nil).Error())
	base := errors.New("boom")
	require.ErrorIs(t, job.Permanent(base), base)
	require.ErrorIs(t, job.RetryAfter(time.Second, base), base)
	require.Contains(t, job.Permanent(base).Error(), "boom")
	require.Contains(t, job.RetryAfter(time.Second, base).Error(), "1s")
}

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	b, err := job.Encode(job.ACLJob{DocumentID: "d1", Version: 7})
	require.NoError(t, err)
	require.JSONEq(t, `{"document_id":"d1","version":7}`, string(b))

	var got job.ACLJob
	require.NoError(t, job.Decode(b, &got))
	require.Equal(t, job.ACLJob{DocumentID: "d1", Version: 7}, got)

	err = job.Decode([]byte("{not json"), &got)
	require.Error(t, err)
	require.True(t, job.IsPermanent(err), "an undecodable payload must not be retried")
}

func TestArgsNameTheirSubjectAndMsgID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args    job.Args
		subject string
		msgID   string
	}{
		{job.IngestJob{DocumentID: "d1", Generation: 2}, job.SubjectIngest, "ingest:d1:2"},
		{job.DeleteJob{DocumentID: "d1", OwnerID: "u1"}, job.SubjectDelete, "delete:d1"},
		{job.ChatJob{TurnID: "t1"}, job.SubjectChat, "chat:t1"},
		{job.ReindexJob{JobID: "j1"}, job.SubjectReindex, "reindex:j1"},
		{job.ACLJob{DocumentID: "d1", Version: 9}, job.SubjectACL, "acl:d1:9"},
	}
	for _, c := range cases {
		require.Equal(t, c.subject, c.args.Subject(), "%T", c.args)
		require.Equal(t, c.msgID, c.args.MsgID(), "%T", c.args)
	}
	require.NotEqual(t, job.IngestJob{DocumentID: "d1", Generation: 1}.MsgID(), job.IngestJob{DocumentID: "d1", Generation: 2}.MsgID(),
		"a retry of a failed document is a new run, not a duplicate publish")
}

package store

import (
	"context"
	"fmt"

	"github.com/youworker/youworker/pkg/access"
)

// maxPendingACL bounds how many lagging documents one search widens its filter by:
// sharing changes are synced within moments, so more than this many at once means
// the sync is down, and then search stays correct (Postgres re-checks) if less
// complete for those documents.
const maxPendingACL = 256

// MarkACLSynced records that the vector payloads of each document mirror at least
// the ACL version given for it.
func (s *Store) MarkACLSynced(ctx context.Context, versions map[string]int64) error {
	if len(versions) == 0 {
		return nil
	}
	ids := make([]string, 0, len(versions))
	vs := make([]int64, 0, len(versions))
	for id, v := range versions {
		ids = append(ids, id)
		vs = append(vs, v)
	}
	_, err := s.db.Exec(ctx, `UPDATE documents d SET acl_synced_version = greatest(d.acl_synced_version, v.version)
		FROM unnest($1::uuid[], $2::bigint[]) AS v(id, version) WHERE d.id = v.id`, ids, vs)
	if err != nil {
		return fmt.Errorf("mark acl synced: %w", translate(err))
	}
	return nil
}

// PendingACLDocuments returns documents the user may see whose vector payloads may
// not mirror their sharing yet (a change whose sync has not run), so search can
// admit their points however stale their payloads are.
func (s *Store) PendingACLDocuments(ctx context.Context, p access.Principal) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT d.id::text FROM documents d
		WHERE d.acl_synced_version < d.acl_version AND d.deleted_at IS NULL AND `+access.DocumentPredicate("d", 1)+`
		LIMIT `+fmt.Sprint(maxPendingACL), access.DocumentArgs(p)...)
	if err != nil {
		return nil, fmt.Errorf("pending acl documents: %w", translate(err))
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("pending acl documents: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending acl documents: %w", translate(err))
	}
	return ids, nil
}

package service

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/youworker/youworker/pkg/access"
	"github.com/youworker/youworker/pkg/store"
)

// Codes of the storage limits.
const (
	// CodeQuotaExceeded refuses an upload that would take its owner past their
	// storage or document quota; deleting documents makes room at once.
	CodeQuotaExceeded Code = "quota_exceeded"
	// CodeStorageFull refuses an upload because the platform's upload store is
	// full; an operator must make room. Nothing of the upload is kept.
	CodeStorageFull Code = "storage_full"
	// CodeTooManyUploads refuses an upload while the user already has the maximum
	// in progress; it answers 429 with Retry-After.
	CodeTooManyUploads Code = "too_many_uploads"
)

// QuotaDefaults are the limits of every user an admin gave no limits of their
// own; 0 is unlimited.
type QuotaDefaults struct {
	Bytes     int64
	Documents int64
}

// Quota is a user's storage use and limits; a nil limit is unlimited.
type Quota struct {
	BytesUsed      int64  `json:"bytes_used"`
	BytesLimit     *int64 `json:"bytes_limit"`
	DocumentsUsed  int64  `json:"documents_used"`
	DocumentsLimit *int64 `json:"documents_limit"`
}

// quotaOf is user's quota: their own limits where an admin set them, else the defaults.
func (q QuotaDefaults) quotaOf(u store.User, use store.StorageUsage) Quota {
	limit := func(own *int64, def int64) *int64 {
		if own != nil {
			def = *own
		}
		if def <= 0 {
			return nil
		}
		return &def
	}
	return Quota{BytesUsed: use.Bytes, BytesLimit: limit(u.QuotaBytes, q.Bytes),
		DocumentsUsed: use.Documents, DocumentsLimit: limit(u.QuotaDocuments, q.Documents)}
}

// admit refuses adding documents of addBytes in total when they would take the
// user past a limit, saying how much is used and allowed.
func (q Quota) admit(addBytes, addDocs int64) error {
	if q.DocumentsLimit != nil && q.DocumentsUsed+addDocs > *q.DocumentsLimit {
		msg := fmt.Sprintf("document quota exceeded: you have %d of the %d documents you may keep, and this upload adds %d; delete documents to make room",
			q.DocumentsUsed, *q.DocumentsLimit, addDocs)
		return &Error{Code: CodeQuotaExceeded, Message: msg, Fields: []FieldError{{Field: "file", Message: msg}}}
	}
	if q.BytesLimit != nil && q.BytesUsed+addBytes > *q.BytesLimit {
		msg := fmt.Sprintf("storage quota exceeded: you use %s of your %s, and this upload needs %s more; delete documents to make room",
			HumanBytes(q.BytesUsed), HumanBytes(*q.BytesLimit), HumanBytes(addBytes))
		return &Error{Code: CodeQuotaExceeded, Message: msg, Fields: []FieldError{{Field: "file", Message: msg}}}
	}
	return nil
}

// HumanBytes renders n in binary units with up to two decimals: 0 B, 512 B,
// 1.95 KiB, 10 GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, exp := float64(n), 0
	for v >= unit && exp < 6 {
		v /= unit
		exp++
	}
	s := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	return s + " " + string("KMGTPE"[exp-1]) + "iB"
}

// Quota returns the caller's storage use and limits.
func (d *Documents) Quota(ctx context.Context, p access.Principal) (Quota, error) {
	return quotaOfUser(ctx, d.store, d.quotas, p.UserID)
}

func quotaOfUser(ctx context.Context, st *store.Store, defaults QuotaDefaults, userID string) (Quota, error) {
	u, err := st.GetUser(ctx, userID)
	if err != nil {
		return Quota{}, err
	}
	use, err := st.UsageOf(ctx, userID)
	if err != nil {
		return Quota{}, err
	}
	return defaults.quotaOf(u, use), nil
}

// admitUpload checks in st's transaction, holding the lock on the owner's row
// until it ends, that new documents of addBytes in total fit the owner's quota.
// Uploads of one owner thus commit one after the other, each counting the
// documents of the one before, so concurrent uploads cannot together slip past
// a limit. Called outside a transaction it only checks, as a quick refusal
// before any byte is stored.
func (d *Documents) admitUpload(ctx context.Context, st *store.Store, ownerID string, addBytes, addDocs int64, lock bool) error {
	if addDocs == 0 {
		return nil // duplicates cost nothing
	}
	var u store.User
	var err error
	if lock {
		u, err = st.LockUser(ctx, ownerID)
	} else {
		u, err = st.GetUser(ctx, ownerID)
	}
	if err != nil {
		return err
	}
	if q := d.quotas.quotaOf(u, store.StorageUsage{}); q.BytesLimit == nil && q.DocumentsLimit == nil {
		return nil
	}
	use, err := st.UsageOf(ctx, ownerID)
	if err != nil {
		return err
	}
	return d.quotas.quotaOf(u, use).admit(addBytes, addDocs)
}

// uploadSlots bounds the uploads each user has in progress in this process.
type uploadSlots struct {
	max  int // 0: no bound
	mu   sync.Mutex
	busy map[string]int
}

// BeginUpload takes one of the caller's upload slots, or refuses with
// CodeTooManyUploads when they have the maximum in progress (per API process).
// Call release once the upload has ended.
func (d *Documents) BeginUpload(p access.Principal) (release func(), err error) {
	s := &d.slots
	if s.max <= 0 {
		return func() {}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[p.UserID] >= s.max {
		return nil, Errorf(CodeTooManyUploads, "you have %d uploads in progress, the most allowed at once; retry when one has finished", s.max)
	}
	if s.busy == nil {
		s.busy = map[string]int{}
	}
	s.busy[p.UserID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.busy[p.UserID]--; s.busy[p.UserID] <= 0 {
				delete(s.busy, p.UserID)
			}
		})
	}, nil
}

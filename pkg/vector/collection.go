package vector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Distance is the similarity measure of a collection.
type Distance string

// Supported distances. Cosine and dot scores are similarities (higher is
// closer); euclid scores are distances (lower is closer).
const (
	Cosine Distance = "cosine"
	Dot    Distance = "dot"
	Euclid Distance = "euclid"
)

func (d Distance) proto() (qdrant.Distance, error) {
	switch d {
	case Cosine:
		return qdrant.Distance_Cosine, nil
	case Dot:
		return qdrant.Distance_Dot, nil
	case Euclid:
		return qdrant.Distance_Euclid, nil
	}
	return 0, fmt.Errorf("vector: unknown distance %q", d)
}

// payloadIndexes are the fields every chunk collection indexes: the ACL
// fields the authorization filter uses, and the fields jobs select by.
// group_id is the tenant key, which lets Qdrant co-locate a group's points.
var payloadIndexes = []struct {
	field  string
	typ    qdrant.FieldType
	params *qdrant.PayloadIndexParams
}{
	{FieldOwnerID, qdrant.FieldType_FieldTypeKeyword, nil},
	{FieldGroupID, qdrant.FieldType_FieldTypeKeyword, qdrant.NewPayloadIndexParamsKeyword(&qdrant.KeywordIndexParams{IsTenant: qdrant.PtrOf(true)})},
	{FieldPrivate, qdrant.FieldType_FieldTypeBool, nil},
	{FieldDocumentID, qdrant.FieldType_FieldTypeKeyword, nil},
	{FieldChunkIndex, qdrant.FieldType_FieldTypeInteger, nil},
	{FieldACLVersion, qdrant.FieldType_FieldTypeInteger, nil},
}

// EnsureCollection creates the collection with its payload indexes, or checks
// that an existing one has the same dimension and distance. It is idempotent
// and safe to call from several processes at once.
func (s *Store) EnsureCollection(ctx context.Context, name string, dim int, distance Distance) error {
	return s.ensureCollection(ctx, name, dim, distance, false)
}

// EnsureHybridCollection is EnsureCollection for a collection that also holds
// a lexical sparse vector per point (SparseName, with the idf modifier). An
// existing collection without it is refused with ErrConflict: sparse vectors
// cannot be added to a collection, only built into a new one (a re-embed).
func (s *Store) EnsureHybridCollection(ctx context.Context, name string, dim int, distance Distance) error {
	return s.ensureCollection(ctx, name, dim, distance, true)
}

func (s *Store) ensureCollection(ctx context.Context, name string, dim int, distance Distance, hybrid bool) error {
	dist, err := distance.proto()
	if err != nil {
		return err
	}
	if dim <= 0 {
		return fmt.Errorf("vector: ensure collection %s: dimension must be positive, got %d", name, dim)
	}
	info, err := s.client.GetCollectionInfo(ctx, name)
	switch err = translate(err); {
	case errors.Is(err, ErrNotFound):
		create := &qdrant.CreateCollection{
			CollectionName: name,
			VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: uint64(dim), Distance: dist}),
		}
		if hybrid {
			create.SparseVectorsConfig = qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
				SparseName: {Modifier: qdrant.PtrOf(qdrant.Modifier_Idf)},
			})
		}
		err = s.client.CreateCollection(ctx, create)
		if err != nil && !alreadyExists(err) {
			return fmt.Errorf("vector: create collection %s: %w", name, translate(err))
		}
		if info, err = s.client.GetCollectionInfo(ctx, name); err != nil {
			return fmt.Errorf("vector: ensure collection %s: %w", name, translate(err))
		}
	case err != nil:
		return fmt.Errorf("vector: ensure collection %s: %w", name, err)
	}
	params := info.GetConfig().GetParams().GetVectorsConfig().GetParams()
	if got := int(params.GetSize()); got != dim {
		return fmt.Errorf("%w: collection %s has dimension %d, want %d", ErrDimensionMismatch, name, got, dim)
	}
	if params.GetDistance() != dist {
		return fmt.Errorf("%w: collection %s has distance %s, want %s", ErrConflict, name, params.GetDistance(), dist)
	}
	if hybrid && !hasLexical(info) {
		return fmt.Errorf("%w: collection %s has no %s sparse vector with the idf modifier", ErrConflict, name, SparseName)
	}
	for _, ix := range payloadIndexes {
		if _, ok := info.GetPayloadSchema()[ix.field]; ok {
			continue
		}
		_, err := s.client.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{
			CollectionName:   name,
			Wait:             qdrant.PtrOf(true),
			FieldName:        ix.field,
			FieldType:        qdrant.PtrOf(ix.typ),
			FieldIndexParams: ix.params,
		})
		if err != nil {
			return fmt.Errorf("vector: create index %s on %s: %w", ix.field, name, translate(err))
		}
	}
	return nil
}

// alreadyExists reports a lost creation race: another process created the
// collection between our check and our create.
func alreadyExists(err error) bool {
	st, ok := status.FromError(unwrapQdrant(err))
	return ok && st.Code() == codes.AlreadyExists
}

// CollectionInfo describes a collection as the vector store reports it.
type CollectionInfo struct {
	Dim      int
	Distance Distance
	Points   uint64
	// Indexes lists the indexed payload fields, sorted.
	Indexes []string
	// Lexical says the collection holds lexical sparse vectors (SparseName,
	// idf modifier) beside the dense ones.
	Lexical bool
}

func hasLexical(info *qdrant.CollectionInfo) bool {
	p, ok := info.GetConfig().GetParams().GetSparseVectorsConfig().GetMap()[SparseName]
	return ok && p.GetModifier() == qdrant.Modifier_Idf
}

// Info describes a collection or the collection behind an alias.
func (s *Store) Info(ctx context.Context, name string) (CollectionInfo, error) {
	info, err := s.client.GetCollectionInfo(ctx, name)
	if err != nil {
		return CollectionInfo{}, fmt.Errorf("vector: collection %s: %w", name, translate(err))
	}
	params := info.GetConfig().GetParams().GetVectorsConfig().GetParams()
	out := CollectionInfo{Dim: int(params.GetSize()), Points: info.GetPointsCount(), Lexical: hasLexical(info)}
	switch params.GetDistance() {
	case qdrant.Distance_Cosine:
		out.Distance = Cosine
	case qdrant.Distance_Dot:
		out.Distance = Dot
	case qdrant.Distance_Euclid:
		out.Distance = Euclid
	default:
		out.Distance = Distance(strings.ToLower(params.GetDistance().String()))
	}
	for field := range info.GetPayloadSchema() {
		out.Indexes = append(out.Indexes, field)
	}
	slices.Sort(out.Indexes)
	return out, nil
}

// CollectionDim returns the vector dimension of a collection or alias, so a
// caller can check an embedder against the index before writing.
func (s *Store) CollectionDim(ctx context.Context, name string) (int, error) {
	info, err := s.Info(ctx, name)
	if err != nil {
		return 0, err
	}
	return info.Dim, nil
}

// CollectionExists reports whether a physical collection exists.
func (s *Store) CollectionExists(ctx context.Context, name string) (bool, error) {
	ok, err := s.client.CollectionExists(ctx, name)
	if err != nil {
		return false, fmt.Errorf("vector: collection exists %s: %w", name, translate(err))
	}
	return ok, nil
}

// ListCollections returns the names of all physical collections, sorted.
func (s *Store) ListCollections(ctx context.Context) ([]string, error) {
	names, err := s.client.ListCollections(ctx)
	if err != nil {
		return nil, fmt.Errorf("vector: list collections: %w", translate(err))
	}
	slices.Sort(names)
	return names, nil
}

// DeleteCollection drops a physical collection (and aliases pointing to it).
// Deleting a missing collection returns ErrNotFound.
func (s *Store) DeleteCollection(ctx context.Context, name string) error {
	ok, err := s.CollectionExists(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("vector: delete collection %s: %w", name, ErrNotFound)
	}
	if err := s.client.DeleteCollection(ctx, name); err != nil {
		return fmt.Errorf("vector: delete collection %s: %w", name, translate(err))
	}
	return nil
}

// ListAliases returns every alias and the collection it points to.
func (s *Store) ListAliases(ctx context.Context) (map[string]string, error) {
	list, err := s.client.ListAliases(ctx)
	if err != nil {
		return nil, fmt.Errorf("vector: list aliases: %w", translate(err))
	}
	out := make(map[string]string, len(list))
	for _, a := range list {
		out[a.GetAliasName()] = a.GetCollectionName()
	}
	return out, nil
}

// ResolveAlias returns the collection an alias points to, or ErrNotFound.
func (s *Store) ResolveAlias(ctx context.Context, alias string) (string, error) {
	all, err := s.ListAliases(ctx)
	if err != nil {
		return "", err
	}
	target, ok := all[alias]
	if !ok {
		return "", fmt.Errorf("vector: alias %s: %w", alias, ErrNotFound)
	}
	return target, nil
}

// SwitchAlias points alias at collection, creating the alias if needed. The
// delete and create go in one UpdateAliases call, so searches through the
// alias see either the old or the new collection, never neither.
func (s *Store) SwitchAlias(ctx context.Context, alias, collection string) error {
	all, err := s.ListAliases(ctx)
	if err != nil {
		return err
	}
	var actions []*qdrant.AliasOperations
	if cur, ok := all[alias]; ok {
		if cur == collection {
			return nil
		}
		actions = append(actions, qdrant.NewAliasDelete(alias))
	}
	actions = append(actions, qdrant.NewAliasCreate(alias, collection))
	if err := s.client.UpdateAliases(ctx, actions); err != nil {
		return fmt.Errorf("vector: switch alias %s to %s: %w", alias, collection, translate(err))
	}
	s.logger.Info("alias switched", "alias", alias, "collection", collection, "previous", all[alias])
	return nil
}

// DeleteAlias removes an alias; the collection stays. A missing alias
// returns ErrNotFound.
func (s *Store) DeleteAlias(ctx context.Context, alias string) error {
	if _, err := s.ResolveAlias(ctx, alias); err != nil {
		return err
	}
	if err := s.client.DeleteAlias(ctx, alias); err != nil {
		return fmt.Errorf("vector: delete alias %s: %w", alias, translate(err))
	}
	return nil
}

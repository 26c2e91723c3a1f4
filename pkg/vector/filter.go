package vector

import "github.com/qdrant/go-client/qdrant"

// MatchDocument selects every point of one document.
func MatchDocument(documentID string) *qdrant.Filter {
	return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword(FieldDocumentID, documentID)}}
}

// MatchDocuments selects every point of any of the documents.
func MatchDocuments(documentIDs ...string) *qdrant.Filter {
	return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeywords(FieldDocumentID, documentIDs...)}}
}

// MatchStaleACL selects the points of a document whose ACL version is older
// than version: the ones an ACL sync still has to update.
func MatchStaleACL(documentID string, version int64) *qdrant.Filter {
	return &qdrant.Filter{Must: []*qdrant.Condition{
		qdrant.NewMatchKeyword(FieldDocumentID, documentID),
		qdrant.NewRange(FieldACLVersion, &qdrant.Range{Lt: qdrant.PtrOf(float64(version))}),
	}}
}

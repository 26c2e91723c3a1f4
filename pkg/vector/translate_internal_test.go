package vector

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestTranslateByCode: errors are classified by gRPC status code only, so a
// Qdrant release that rewords a message cannot change what callers see.
func TestTranslateByCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want error
	}{
		{status.Error(codes.NotFound, "Not found: Collection `c` doesn't exist!"), ErrNotFound},
		{status.Error(codes.AlreadyExists, "Collection `c` already exists!"), ErrConflict},
		{status.Error(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: 4, got 3"), ErrInvalid},
		// Messages that once decided the class no longer do.
		{status.Error(codes.InvalidArgument, "Collection `c` doesn't exist!"), ErrInvalid},
		{status.Error(codes.Internal, "dimension already exists doesn't exist"), nil},
	}
	for _, tc := range cases {
		got := translate(tc.err)
		for _, sentinel := range []error{ErrNotFound, ErrConflict, ErrInvalid, ErrDimensionMismatch} {
			require.Equal(t, sentinel == tc.want, errors.Is(got, sentinel), "%v as %v", tc.err, sentinel)
		}
	}
	require.True(t, alreadyExists(status.Error(codes.AlreadyExists, "x")))
	require.False(t, alreadyExists(status.Error(codes.InvalidArgument, "Collection `c` already exists!")))
}

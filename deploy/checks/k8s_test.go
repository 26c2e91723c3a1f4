package checks

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// k8sDoc is one Kubernetes object of a manifest, with its node for decoding it whole.
type k8sDoc struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	node yaml.Node
}

// readYAMLDocuments reads every document of a YAML file.
func readYAMLDocuments(t *testing.T, path string) []k8sDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []k8sDoc
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err, path)
		var d k8sDoc
		require.NoError(t, node.Decode(&d), path)
		d.node = node
		docs = append(docs, d)
	}
}

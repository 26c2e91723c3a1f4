package api

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"
)

// openapiParts are fragments of the contract, one per feature, merged at start-up:
// 00-base.json holds the document frame and shared components, every other file adds
// paths and components.
//
//go:embed openapi/*.json
var openapiParts embed.FS

// OpenAPI returns the machine-readable contract served at /v1/openapi.json; tests
// check real responses against it.
func OpenAPI() ([]byte, error) {
	names, err := fs.Glob(openapiParts, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var doc map[string]any
	for _, name := range names {
		b, err := openapiParts.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var part map[string]any
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if doc == nil {
			doc = part
			continue
		}
		if err := mergeInto(doc, part, name); err != nil {
			return nil, err
		}
	}
	addDefaultProblem(doc)
	return json.Marshal(doc)
}

// addDefaultProblem documents that any status an operation does not list (413, 429,
// 500, ...) answers a problem document, as every error of this API does.
func addDefaultProblem(doc map[string]any) {
	paths, _ := doc["paths"].(map[string]any)
	for _, item := range paths {
		ops, _ := item.(map[string]any)
		for method, op := range ops {
			o, ok := op.(map[string]any)
			if !ok || method == "parameters" {
				continue
			}
			responses, _ := o["responses"].(map[string]any)
			if responses == nil {
				continue
			}
			if _, has := responses["default"]; !has {
				responses["default"] = map[string]any{"$ref": "#/components/responses/Problem"}
			}
		}
	}
}

// mergeInto adds src's objects into dst, refusing to overwrite a key twice so two
// fragments cannot silently disagree.
func mergeInto(dst, src map[string]any, where string) error {
	for k, v := range src {
		sub, isMap := v.(map[string]any)
		cur, exists := dst[k]
		if !exists {
			dst[k] = v
			continue
		}
		curMap, curIsMap := cur.(map[string]any)
		if !isMap || !curIsMap {
			return fmt.Errorf("%s: %q is defined twice", where, k)
		}
		if err := mergeInto(curMap, sub, where); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, s.openapiDoc)
}

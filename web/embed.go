// Package web holds the browser UI: plain HTML, CSS and JavaScript modules with no
// build step, embedded in the API binary so the UI works in a network with no
// internet access at all.
package web

import "embed"

// Files are the UI's static files: index.html at the top and everything it loads
// under assets/.
//
//go:embed index.html assets
var Files embed.FS

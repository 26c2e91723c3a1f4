package api

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/logging"
	"github.com/youworker/youworker/pkg/service"
)

// signInFailedPage is what a browser shows when a sign-in through the identity
// provider fails: the reason in words, a reference for the operator, and the ways
// on. It has no script, and says nothing of tokens or internals.
var signInFailedPage = template.Must(template.New("signin-failed").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Sign-in failed · YouWorker</title>
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/css/app.css">
<script src="/assets/js/theme.js"></script>
</head>
<body>
<main id="main" class="signin">
<div class="signin-card stack" data-testid="sign-in-failed" data-code="{{.Code}}">
<div class="brand big"><img src="/assets/icon.svg" alt="" width="40" height="40"><span>YouWorker</span></div>
<h1>Sign-in failed</h1>
<p class="form-error" role="alert">{{.Message}}</p>
<p class="muted">Reference for your administrator: {{.Reference}}</p>
<div class="row">{{if .Retry}}<a class="btn btn-primary" href="{{.Retry}}">Try again</a>{{end}}<a class="btn" href="/">Back to sign-in</a></div>
</div>
</main>
</body>
</html>
`))

// signInPage answers a failed browser sign-in with err: the page above for a
// browser, a problem document for anything else (a script, a test).
func (s *Server) signInPage(c echo.Context, err *service.Error) error {
	if !strings.Contains(c.Request().Header.Get("Accept"), "text/html") {
		return err
	}
	status := statusOfCode[err.Code]
	if status == 0 {
		status = http.StatusBadRequest
	}
	retry := ""
	if s.oidc != nil && err.Code != service.CodeRateLimited {
		retry = oidcLoginPath
	}
	message := err.Message
	if message != "" {
		message = strings.ToUpper(message[:1]) + message[1:] + "."
	}
	var b bytes.Buffer
	data := struct{ Code, Message, Reference, Retry string }{string(err.Code), message, logging.CorrelationID(c.Request().Context()), retry}
	if terr := signInFailedPage.Execute(&b, data); terr != nil {
		return terr
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, b.Bytes())
}

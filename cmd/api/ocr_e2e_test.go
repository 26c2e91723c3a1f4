package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/api/apitest"
	"github.com/youworker/youworker/pkg/llmtest"
	"github.com/youworker/youworker/pkg/ocr/ocrtest"
	"github.com/youworker/youworker/pkg/pgtest"
)

type pagedHits struct {
	Hits []struct {
		DocumentID string `json:"document_id"`
		Text       string `json:"text"`
		Page       *int   `json:"page"`
	} `json:"hits"`
}

// uploadAndWait uploads one file and waits until it is ready or failed.
func uploadAndWait(t *testing.T, c *apitest.Client, key, name string, data []byte) document {
	t.Helper()
	d, _ := uploadOne(t, c, key, name, data, http.StatusAccepted)
	return waitFor(t, c, key, d.ID)
}

// With a vision model, pictures and scanned PDFs are read page by page and found
// by what is written on them, with their page.
func TestPicturesAndScansAreReadByTheVisionModel(t *testing.T) {
	t.Parallel()
	model := llmtest.New(t)
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-ocr-vision-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn",
		"YW_OLLAMA_URL": model.URL, "YW_CHAT_MODEL": llmtest.ChatModel, "YW_VISION_MODEL": llmtest.VisionModel, "YW_TESSERACT": "off"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")

	whiteboard := ocrtest.Page("Sprint goals")
	model.Teach(whiteboard, "Sprint goals: ship the harbour timetable")
	got := uploadAndWait(t, c, alice, "whiteboard.png", ocrtest.PNG(whiteboard))
	require.Equal(t, "ready", got.Status, "%+v", got.Error)
	require.Equal(t, "image/png", got.MIME)
	require.Equal(t, 1, got.Progress["pages_total"])
	require.Equal(t, 1, got.Progress["pages_done"])

	first, second := ocrtest.Page("Minutes"), ocrtest.Page("Budget")
	model.Teach(first, "Minutes of the lighthouse committee")
	model.Teach(second, "The lantern budget is approved")
	scan := ocrtest.PDF(ocrtest.PDFPage{Picture: first, Encoding: ocrtest.Flate}, ocrtest.PDFPage{Picture: second, Encoding: ocrtest.Flate})
	got = uploadAndWait(t, c, alice, "scan.pdf", scan)
	require.Equal(t, "ready", got.Status, "%+v", got.Error)
	require.Equal(t, 2, got.Progress["pages_done"])

	var found pagedHits
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "harbour timetable", "mode": "lexical"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits)
	require.Contains(t, found.Hits[0].Text, "ship the harbour timetable")
	require.Equal(t, 1, *found.Hits[0].Page)
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "lantern budget approved", "mode": "lexical"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits)
	require.Equal(t, got.ID, found.Hits[0].DocumentID)
	require.Contains(t, found.Hits[0].Text, "lantern budget")
	require.Len(t, model.ChatRequests(), 3, "one vision request a page")
}

// Without any OCR, pictures are accepted and fail with needs_ocr; with Tesseract
// installed, it reads them.
func TestPicturesNeedOCRAndTesseractReadsThem(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	admin := "bootstrap-admin-key-for-ocr-none-e2e"
	base := startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_TESSERACT": "off"})
	c := apitest.NewClient(t, base)
	alice := newUser(t, c, admin, "alice")
	got := uploadAndWait(t, c, alice, "receipt.jpg", ocrtest.JPEG(ocrtest.Page("RECEIPT 0815")))
	require.Equal(t, "failed", got.Status)
	require.Equal(t, "needs_ocr", got.Error["code"])
	require.Equal(t, "image/jpeg", got.MIME)

	cmd := ocrtest.Tesseract(t)
	_, dbURL = pgtest.NewDB(t)
	base = startAPI(t, map[string]string{"YW_DATABASE_URL": dbURL, "YW_HTTP_ADDR": "127.0.0.1:0",
		"YW_BOOTSTRAP_ADMIN_KEY": admin, "YW_LOG_LEVEL": "warn", "YW_TESSERACT": cmd})
	c = apitest.NewClient(t, base)
	alice = newUser(t, c, admin, "alice")
	got = uploadAndWait(t, c, alice, "fax.tiff", ocrtest.TIFF(ocrtest.Page("RECEIPT 0815", "Harbour Street"), ocrtest.Page("Paid in cash")))
	require.Equal(t, "ready", got.Status, "%+v", got.Error)
	require.Equal(t, 2, got.Progress["pages_done"])
	var found pagedHits
	c.Do("POST", "/v1/search", alice, map[string]any{"query": "cash", "mode": "lexical"}, http.StatusOK, &found)
	require.NotEmpty(t, found.Hits)
	require.Contains(t, found.Hits[0].Text, "Paid in cash")
}

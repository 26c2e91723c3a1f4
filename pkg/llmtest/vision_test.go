package llmtest_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/ollama/ollama/api"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/llmtest"
)

// page is a small grey picture whose pixels depend on seed.
func page(seed uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)*7 + seed
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func see(t *testing.T, s *llmtest.Server, model string, imgs ...[]byte) (string, error) {
	t.Helper()
	msg := api.Message{Role: "user", Content: "Transcribe the text."}
	for _, img := range imgs {
		msg.Images = append(msg.Images, img)
	}
	var out string
	err := client(t, s).Chat(t.Context(), &api.ChatRequest{Model: model, Messages: []api.Message{msg}},
		func(r api.ChatResponse) error { out += r.Message.Content; return nil })
	return out, err
}

func TestVisionModelReadsWhatItWasTaught(t *testing.T) {
	t.Parallel()
	s := llmtest.New(t)
	s.Teach(page(1), "Invoice 4711 due in March")
	var jpg bytes.Buffer
	require.NoError(t, jpeg.Encode(&jpg, page(2), nil))
	require.NoError(t, s.TeachEncoded(jpg.Bytes(), "second page"))

	// The same pixels in another encoding read the same; an RGBA copy too.
	rgba := image.NewRGBA(page(1).Bounds())
	for y := range 30 {
		for x := range 40 {
			g := page(1).GrayAt(x, y).Y
			rgba.Set(x, y, color.RGBA{g, g, g, 255})
		}
	}
	text, err := see(t, s, llmtest.VisionModel, encodePNG(t, rgba))
	require.NoError(t, err)
	require.Equal(t, "Invoice 4711 due in March", text)

	text, err = see(t, s, llmtest.VisionModel, encodePNG(t, page(1)), jpg.Bytes())
	require.NoError(t, err)
	require.Equal(t, "Invoice 4711 due in March\n\nsecond page", text, "one request, every image in order")

	text, err = see(t, s, llmtest.VisionModel, encodePNG(t, page(3)))
	require.NoError(t, err)
	require.Empty(t, text, "an image nobody taught holds no text")

	_, err = see(t, s, llmtest.ChatModel, encodePNG(t, page(1)))
	var se api.StatusError
	require.ErrorAs(t, err, &se, "a model without vision refuses images")
	_, err = see(t, s, llmtest.VisionModel, []byte("not an image"))
	require.ErrorAs(t, err, &se)
	require.Equal(t, 400, se.StatusCode)
}

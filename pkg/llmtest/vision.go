package llmtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // the encodings a vision model is sent
	_ "image/png"
	"strings"

	"github.com/ollama/ollama/api"
)

// VisionModel is a model every new server knows that reads images: a chat whose
// messages carry images is answered with the text taught for each image (see
// Teach), as a vision model transcribes what is written on a page.
const VisionModel = "test-vision"

// familyVision marks the models that take images.
const familyVision = "mllama"

// Teach tells the vision models what is written on img: a chat showing them an
// image with the same pixels (whatever its encoding: PNG, JPEG decoded the same
// way, the pixels of a PDF's image stream) is answered with text. An image
// nobody taught reads as no text at all, as a photograph without writing would.
func (s *Server) Teach(img image.Image, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[[32]byte]string{}
	}
	s.seen[Fingerprint(img)] = text
}

// TeachEncoded is Teach for an encoded image (PNG or JPEG).
func (s *Server) TeachEncoded(data []byte, text string) error {
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("decode the image to teach: %w", err)
	}
	s.Teach(img, text)
	return nil
}

// Fingerprint identifies an image by its size and the grey level of every pixel,
// so the same picture matches however it was encoded losslessly.
func Fingerprint(img image.Image) [32]byte {
	h := sha256.New()
	b := img.Bounds()
	_ = binary.Write(h, binary.LittleEndian, [2]int32{int32(b.Dx()), int32(b.Dy())})
	row := make([]byte, 0, b.Dx())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row = row[:0]
		for x := b.Min.X; x < b.Max.X; x++ {
			row = append(row, color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y)
		}
		h.Write(row)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// images returns the images of the request's last user message.
func images(req api.ChatRequest) []api.ImageData {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			return req.Messages[i].Images
		}
	}
	return nil
}

// read is what a vision model answers for imgs: the taught text of each, in
// order; ok is false when an image does not decode, which Ollama refuses.
func (s *Server) read(imgs []api.ImageData) (text string, ok bool) {
	var parts []string
	for _, data := range imgs {
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return "", false
		}
		fp := Fingerprint(img)
		s.mu.Lock()
		t, known := s.seen[fp]
		s.mu.Unlock()
		if known {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\n\n"), true
}

// visionScript answers a chat carrying images: the models that see transcribe
// them; the others fail as Ollama does when a model cannot take images.
func (s *Server) visionScript(req api.ChatRequest, imgs []api.ImageData) Script {
	s.mu.Lock()
	family := s.models[normalise(req.Model)]
	s.mu.Unlock()
	if family != familyVision {
		return Script{Status: 500, Error: "this model is missing data required for image input"}
	}
	text, ok := s.read(imgs)
	if !ok {
		return Script{Status: 400, Error: "image: unknown format"}
	}
	var tokens []string
	for _, w := range strings.SplitAfter(text, " ") {
		if w != "" {
			tokens = append(tokens, w)
		}
	}
	return Script{Tokens: tokens}
}

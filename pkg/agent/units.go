package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/youworker/youworker/pkg/llm"
)

// ConvertUnits is the convert_units tool. Models are unreliable at arithmetic
// with conversion factors, so they get exact ones here.
type ConvertUnits struct{}

var convertUnitsSchema = json.RawMessage(`{
  "type": "object",
  "properties": {
    "value": {"type": "number", "description": "The quantity to convert."},
    "from": {"type": "string", "description": "Unit of value, for example km, lb, °F, km/h, m2, GiB, min."},
    "to": {"type": "string", "description": "Unit to convert to, of the same kind."}
  },
  "required": ["value", "from", "to"],
  "additionalProperties": false
}`)

// Spec implements Tool.
func (ConvertUnits) Spec() llm.ToolSpec {
	return llm.ToolSpec{
		Name: "convert_units",
		Description: "Convert a value between units of length, mass, volume, temperature, speed, area, " +
			"data size (kB, MB, GB decimal; KiB, MiB, GiB binary) and duration.",
		Parameters: convertUnitsSchema,
	}
}

// Call implements Tool.
func (ConvertUnits) Call(_ context.Context, call Call) (Result, error) {
	var args struct {
		Value float64 `json:"value"`
		From  string  `json:"from"`
		To    string  `json:"to"`
	}
	if err := decodeArgs(call.Arguments, &args); err != nil {
		return Result{}, err
	}
	v, from, to, err := convert(args.Value, args.From, args.To)
	if err != nil {
		return Result{}, &ToolError{Message: err.Error()} // all of convert's errors are about the arguments
	}
	text := fmt.Sprintf("%s %s = %s %s", formatNumber(args.Value), from.symbol, formatNumber(v), to.symbol)
	return Result{Text: text, Preview: text}, nil
}

// Unit dimensions.
const (
	dimLength      = "length"
	dimMass        = "mass"
	dimVolume      = "volume"
	dimTemperature = "temperature"
	dimSpeed       = "speed"
	dimArea        = "area"
	dimData        = "data size"
	dimDuration    = "duration"
)

type unit struct {
	symbol string
	dim    string
	// factor converts to the dimension's base unit: base = value*factor + offset.
	// Only temperatures have an offset.
	factor, offset float64
}

// units maps lower-case names and symbols to units. Lower case is enough:
// the only case-sensitive pairs in common use (kB vs KB, both decimal here)
// mean the same thing.
var units = func() map[string]unit {
	m := map[string]unit{}
	add := func(dim string, factor, offset float64, symbol string, aliases ...string) {
		u := unit{symbol: symbol, dim: dim, factor: factor, offset: offset}
		m[strings.ToLower(symbol)] = u
		for _, a := range aliases {
			m[a] = u
		}
	}
	// Length, base metre.
	add(dimLength, 1e-9, 0, "nm", "nanometer", "nanometre")
	add(dimLength, 1e-6, 0, "µm", "um", "micrometer", "micrometre", "micron")
	add(dimLength, 1e-3, 0, "mm", "millimeter", "millimetre")
	add(dimLength, 1e-2, 0, "cm", "centimeter", "centimetre")
	add(dimLength, 1e-1, 0, "dm", "decimeter", "decimetre")
	add(dimLength, 1, 0, "m", "meter", "metre")
	add(dimLength, 1e3, 0, "km", "kilometer", "kilometre")
	add(dimLength, 0.0254, 0, "in", "inch", "inches")
	add(dimLength, 0.3048, 0, "ft", "foot", "feet")
	add(dimLength, 0.9144, 0, "yd", "yard")
	add(dimLength, 1609.344, 0, "mi", "mile")
	add(dimLength, 1852, 0, "nmi", "nautical mile", "nautical_mile")
	// Mass, base kilogram.
	add(dimMass, 1e-9, 0, "µg", "ug", "microgram")
	add(dimMass, 1e-6, 0, "mg", "milligram")
	add(dimMass, 1e-3, 0, "g", "gram", "gramme")
	add(dimMass, 1, 0, "kg", "kilogram", "kilo")
	add(dimMass, 1e3, 0, "t", "tonne", "metric ton")
	add(dimMass, 0.028349523125, 0, "oz", "ounce")
	add(dimMass, 0.45359237, 0, "lb", "lbs", "pound")
	add(dimMass, 6.35029318, 0, "st", "stone")
	// Volume, base litre.
	add(dimVolume, 1e-3, 0, "ml", "milliliter", "millilitre", "cm3", "cc")
	add(dimVolume, 1e-2, 0, "cl", "centiliter", "centilitre")
	add(dimVolume, 1e-1, 0, "dl", "deciliter", "decilitre")
	add(dimVolume, 1, 0, "l", "liter", "litre", "dm3")
	add(dimVolume, 1e3, 0, "m3", "cubic meter", "cubic metre")
	add(dimVolume, 3.785411784, 0, "gal", "gallon", "us gal", "us gallon")
	add(dimVolume, 4.54609, 0, "imp gal", "imperial gallon", "uk gallon")
	add(dimVolume, 0.946352946, 0, "qt", "quart")
	add(dimVolume, 0.473176473, 0, "pt", "pint")
	add(dimVolume, 0.2365882365, 0, "cup")
	add(dimVolume, 0.0295735295625, 0, "fl oz", "floz", "fluid ounce")
	add(dimVolume, 0.01478676478125, 0, "tbsp", "tablespoon")
	add(dimVolume, 0.00492892159375, 0, "tsp", "teaspoon")
	// Temperature, base kelvin.
	add(dimTemperature, 1, 273.15, "°C", "c", "degc", "celsius", "centigrade")
	add(dimTemperature, 5.0/9, 273.15-32*5.0/9, "°F", "f", "degf", "fahrenheit")
	add(dimTemperature, 1, 0, "K", "kelvin")
	// Speed, base metre per second.
	add(dimSpeed, 1, 0, "m/s", "mps", "meters per second", "metres per second")
	add(dimSpeed, 1/3.6, 0, "km/h", "kph", "kmh", "kilometers per hour", "kilometres per hour")
	add(dimSpeed, 0.44704, 0, "mph", "mi/h", "miles per hour")
	add(dimSpeed, 1852/3600.0, 0, "kn", "knot", "kt")
	add(dimSpeed, 0.3048, 0, "ft/s", "fps")
	// Area, base square metre.
	add(dimArea, 1e-6, 0, "mm2", "square millimeter", "square millimetre")
	add(dimArea, 1e-4, 0, "cm2", "square centimeter", "square centimetre")
	add(dimArea, 1, 0, "m2", "sqm", "square meter", "square metre")
	add(dimArea, 1e4, 0, "ha", "hectare")
	add(dimArea, 1e6, 0, "km2", "square kilometer", "square kilometre")
	add(dimArea, 0.00064516, 0, "in2", "sq in", "square inch")
	add(dimArea, 0.09290304, 0, "ft2", "sq ft", "sqft", "square foot", "square feet")
	add(dimArea, 0.83612736, 0, "yd2", "sq yd", "square yard")
	add(dimArea, 4046.8564224, 0, "acre", "ac")
	add(dimArea, 2589988.110336, 0, "mi2", "sq mi", "square mile")
	// Data size, base byte. Decimal prefixes are SI (kB = 1000 B); the binary
	// ones are IEC, as storage vendors and operating systems use them.
	add(dimData, 0.125, 0, "bit")
	add(dimData, 1, 0, "B", "byte")
	add(dimData, 1e3, 0, "kB", "kilobyte")
	add(dimData, 1e6, 0, "MB", "megabyte")
	add(dimData, 1e9, 0, "GB", "gigabyte")
	add(dimData, 1e12, 0, "TB", "terabyte")
	add(dimData, 1e15, 0, "PB", "petabyte")
	add(dimData, 1<<10, 0, "KiB", "kibibyte")
	add(dimData, 1<<20, 0, "MiB", "mebibyte")
	add(dimData, 1<<30, 0, "GiB", "gibibyte")
	add(dimData, 1<<40, 0, "TiB", "tebibyte")
	// Duration, base second. Month and year are averages of the Gregorian
	// calendar, which is what people mean when converting.
	add(dimDuration, 1e-9, 0, "ns", "nanosecond")
	add(dimDuration, 1e-6, 0, "µs", "us", "microsecond")
	add(dimDuration, 1e-3, 0, "ms", "millisecond")
	add(dimDuration, 1, 0, "s", "sec", "second")
	add(dimDuration, 60, 0, "min", "minute")
	add(dimDuration, 3600, 0, "h", "hr", "hour")
	add(dimDuration, 86400, 0, "d", "day")
	add(dimDuration, 7*86400, 0, "wk", "week")
	add(dimDuration, 30.436875*86400, 0, "mo", "month")
	add(dimDuration, 365.2425*86400, 0, "yr", "year")
	return m
}()

// lookupUnit finds a unit by symbol or name, tolerating case, superscripts,
// "sq"/"^2" spellings and plurals.
func lookupUnit(s string) (unit, bool) {
	key := strings.ToLower(strings.Join(strings.Fields(s), " "))
	key = strings.NewReplacer("²", "2", "³", "3", "^2", "2", "^3", "3", "μ", "µ", "º", "°").Replace(key)
	if u, ok := units[key]; ok {
		return u, true
	}
	if k, ok := strings.CutPrefix(key, "°"); ok {
		if u, ok := units[k]; ok && u.dim == dimTemperature {
			return u, true
		}
	}
	if k, ok := strings.CutPrefix(key, "degrees "); ok {
		if u, ok := units[k]; ok && u.dim == dimTemperature {
			return u, true
		}
	}
	if k, ok := strings.CutSuffix(key, "es"); ok && len(k) > 2 {
		if u, ok := units[k]; ok {
			return u, true
		}
	}
	if k, ok := strings.CutSuffix(key, "s"); ok && len(k) > 2 {
		if u, ok := units[k]; ok {
			return u, true
		}
	}
	return unit{}, false
}

// convert converts value between two units of the same dimension and returns
// the units it understood them as.
func convert(value float64, from, to string) (float64, unit, unit, error) {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return 0, unit{}, unit{}, fmt.Errorf("value must be a finite number")
	}
	fu, ok := lookupUnit(from)
	if !ok {
		return 0, unit{}, unit{}, fmt.Errorf("unknown unit %q", from)
	}
	tu, ok := lookupUnit(to)
	if !ok {
		return 0, unit{}, unit{}, fmt.Errorf("unknown unit %q", to)
	}
	if fu.dim != tu.dim {
		return 0, unit{}, unit{}, fmt.Errorf("cannot convert %s (%s) to %s (%s): incompatible units", fu.symbol, fu.dim, tu.symbol, tu.dim)
	}
	base := value*fu.factor + fu.offset
	if fu.dim == dimTemperature && base < 0 {
		return 0, unit{}, unit{}, fmt.Errorf("%s %s is below absolute zero", formatNumber(value), fu.symbol)
	}
	return (base - tu.offset) / tu.factor, fu, tu, nil
}

// formatNumber prints a converted value with ten significant digits, which
// hides floating-point noise (0.30000000000000004) without losing precision
// anyone needs, and avoids exponents for everyday magnitudes.
func formatNumber(v float64) string {
	if v == 0 {
		return "0"
	}
	rounded, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 10, 64), 64)
	if a := math.Abs(rounded); a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(rounded, 'f', -1, 64)
	}
	return strconv.FormatFloat(rounded, 'g', 10, 64)
}

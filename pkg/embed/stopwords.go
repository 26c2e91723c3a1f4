package embed

// stopwords are frequent function words of the languages our customers write
// in most (after lower-casing and diacritic folding). They carry no topic, and
// in long chunks they would dominate the vectors and make every text look
// alike, so the lexical embedder skips them. Changing this list changes the
// vectors: it is part of lexical-v1.
var stopwords = [...]string{
	// English
	"a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for",
	"with", "from", "as", "is", "are", "was", "were", "be", "been", "being", "am", "it",
	"its", "this", "that", "these", "those", "there", "their", "they", "them", "he", "she",
	"his", "her", "we", "our", "you", "your", "i", "me", "my", "not", "no", "so", "do",
	"does", "did", "has", "have", "had", "will", "would", "can", "could", "should", "into",
	"than", "then", "which", "who", "whom", "what", "when", "where", "how", "also", "about",
	// French
	"le", "la", "les", "un", "une", "des", "du", "de", "et", "ou", "en", "au", "aux", "ce",
	"ces", "est", "sont", "dans", "par", "pour", "sur", "qui", "que", "il", "elle", "ils",
	"nous", "vous", "se", "sa", "ses", "pas", "ne", "avec",
	// German
	"der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "eines", "einem",
	"und", "oder", "ist", "sind", "mit", "von", "zu", "im", "auf", "fur", "nicht",
	"sich", "auch", "es", "dass", "wird", "bei",
	// Spanish, Italian, Portuguese
	"el", "los", "las", "y", "o", "del", "al", "lo", "es", "por", "con", "para", "una",
	"il", "gli", "di", "che", "e", "per", "non", "della", "dei", "delle", "os", "as", "da",
	"do", "das", "dos", "em", "um", "uma", "com", "nao",
	// Dutch
	"het", "een", "en", "op", "te", "dat", "zijn", "voor", "niet",
}

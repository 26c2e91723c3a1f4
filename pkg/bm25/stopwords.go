package bm25

// Stop words: the frequent function words of each language (articles,
// pronouns, prepositions, conjunctions, auxiliaries). They say nothing about
// what a chunk is about, and in a detected text they are dropped before
// stemming. They are also the evidence for language detection, so each list
// favours words that are frequent in running text.
//
// Entries are written the way the analyser sees them: case-folded (German ß
// as "ss") with accents kept, one atom each (elided articles such as the
// French "l'" appear as "l", English contractions as their parts). They are
// part of bm25-v1: changing any list changes the vectors.

var stopEN = []string{
	"a", "about", "above", "after", "again", "against", "all", "also", "am", "among",
	"an", "and", "another", "any", "are", "as", "at", "be", "because", "been",
	"before", "being", "below", "between", "both", "but", "by", "can", "could", "did",
	"do", "does", "doing", "down", "during", "each", "either", "else", "even", "ever",
	"every", "few", "for", "from", "further", "had", "has", "have", "having", "he",
	"her", "here", "hers", "herself", "him", "himself", "his", "how", "however", "i",
	"if", "in", "into", "is", "it", "its", "itself", "just", "may", "me",
	"might", "more", "most", "much", "must", "my", "myself", "neither", "no", "nor",
	"not", "now", "of", "off", "on", "once", "only", "onto", "or", "other",
	"others", "our", "ours", "ourselves", "out", "over", "own", "same", "shall", "she",
	"should", "since", "so", "some", "such", "than", "that", "the", "their", "theirs",
	"them", "themselves", "then", "there", "therefore", "these", "they", "this", "those", "though",
	"through", "thus", "to", "too", "under", "until", "up", "upon", "us", "very",
	"was", "we", "were", "what", "whatever", "when", "where", "whereas", "whether", "which",
	"while", "who", "whom", "whose", "why", "will", "with", "within", "without", "would",
	"yet", "you", "your", "yours", "yourself", "yourselves",
	// Parts of contractions: "it's", "don't", "we're", "I'll", "I've", "I'd", "I'm".
	"s", "t", "d", "ll", "m", "re", "ve", "don", "doesn", "didn",
	"isn", "aren", "wasn", "weren", "hasn", "haven", "hadn", "wouldn", "couldn", "shouldn",
}

var stopIT = []string{
	"a", "ad", "agli", "ai", "al", "all", "alla", "alle", "allo", "anche",
	"ancora", "avere", "aveva", "avevano", "c", "che", "chi", "ci", "coi", "col",
	"come", "con", "contro", "cosa", "cui", "da", "dagli", "dai", "dal", "dall",
	"dalla", "dalle", "dallo", "degli", "dei", "del", "dell", "della", "delle", "dello",
	"di", "dopo", "dove", "durante", "e", "è", "ed", "egli", "ella", "era",
	"erano", "essa", "esse", "essere", "essi", "esso", "fa", "fino", "fra", "fu",
	"furono", "gli", "ha", "hai", "hanno", "ho", "i", "il", "in", "io",
	"l", "la", "le", "lei", "li", "lo", "loro", "lui", "ma", "me",
	"mi", "mia", "mie", "miei", "mio", "ne", "negli", "nei", "nel", "nell",
	"nella", "nelle", "nello", "noi", "non", "nostra", "nostre", "nostri", "nostro", "o",
	"od", "ogni", "per", "perché", "però", "più", "poi", "qual", "quale", "quali",
	"qualche", "quando", "quanto", "quel", "quella", "quelle", "quelli", "quello", "quest", "questa",
	"queste", "questi", "questo", "qui", "se", "sé", "senza", "si", "sia", "siamo",
	"siano", "sono", "sta", "stanno", "stata", "state", "stati", "stato", "su", "sua",
	"sue", "sugli", "sui", "sul", "sull", "sulla", "sulle", "sullo", "suo", "suoi",
	"te", "ti", "tra", "tu", "tua", "tue", "tuo", "tuoi", "tutta", "tutte",
	"tutti", "tutto", "un", "una", "uno", "vi", "voi",
}

var stopDE = []string{
	"aber", "alle", "allem", "allen", "aller", "alles", "als", "also", "am", "an",
	"andere", "anderen", "anderer", "anderes", "auch", "auf", "aus", "bei", "beim", "bin",
	"bis", "bist", "da", "dabei", "dadurch", "daher", "damit", "dann", "darauf", "darum",
	"das", "dass", "dein", "deine", "dem", "den", "denn", "der", "des", "deshalb",
	"dessen", "die", "dies", "diese", "diesem", "diesen", "dieser", "dieses", "doch", "dort",
	"du", "durch", "ein", "eine", "einem", "einen", "einer", "eines", "er", "es",
	"etwa", "euch", "euer", "eure", "für", "gegen", "hat", "hatte", "hatten", "hier",
	"hinter", "ich", "ihm", "ihn", "ihnen", "ihr", "ihre", "ihrem", "ihren", "ihrer",
	"im", "in", "indem", "ins", "ist", "ja", "jede", "jedem", "jeden", "jeder",
	"jedes", "jedoch", "jene", "kann", "kein", "keine", "keinem", "keinen", "keiner", "können",
	"könnte", "man", "mein", "meine", "mich", "mir", "mit", "muss", "nach", "nicht",
	"nichts", "noch", "nun", "nur", "ob", "oder", "ohne", "sehr", "sein", "seine",
	"seinem", "seinen", "seiner", "seit", "sich", "sie", "sind", "so", "soll", "sollen",
	"sollte", "sondern", "über", "um", "und", "uns", "unser", "unsere", "unter", "vom",
	"von", "vor", "während", "war", "waren", "warum", "was", "weil", "welche", "welchem",
	"welchen", "welcher", "welches", "wenn", "wer", "werde", "werden", "wie", "wieder", "wir",
	"wird", "wo", "wurde", "wurden", "zu", "zum", "zur", "zwar", "zwischen",
}

var stopFR = []string{
	"à", "a", "afin", "ainsi", "alors", "après", "au", "aussi", "autre", "autres",
	"aux", "avaient", "avait", "avant", "avec", "avoir", "c", "ça", "car", "ce",
	"ceci", "cela", "celle", "celles", "celui", "ces", "cet", "cette", "ceux", "chaque",
	"chez", "comme", "d", "dans", "de", "des", "donc", "dont", "du", "elle",
	"elles", "en", "encore", "entre", "es", "est", "et", "étaient", "était", "étant",
	"été", "être", "eu", "eux", "il", "ils", "j", "je", "jusqu", "l",
	"la", "le", "les", "leur", "leurs", "lors", "lorsqu", "lorsque", "lui", "m",
	"ma", "mais", "me", "même", "mes", "moi", "mon", "n", "ne", "ni",
	"nos", "notre", "nous", "on", "ont", "ou", "où", "par", "parce", "pas",
	"peu", "peut", "plus", "pour", "pourquoi", "puis", "puisqu", "puisque", "qu", "quand",
	"que", "quel", "quelle", "quelles", "quels", "qui", "quoi", "s", "sa", "sans",
	"se", "sera", "serait", "seront", "ses", "si", "son", "sont", "sous", "suis",
	"sur", "t", "ta", "te", "tes", "toi", "ton", "tous", "tout", "toute",
	"toutes", "très", "tu", "un", "une", "vers", "vos", "votre", "vous", "y",
}

var stopES = []string{
	"a", "al", "algo", "algunas", "algunos", "ante", "antes", "aquel", "aquella", "aquellas",
	"aquello", "aquellos", "aquí", "así", "aunque", "bajo", "cada", "como", "cómo", "con",
	"contra", "cual", "cuales", "cuando", "cuándo", "cuyo", "de", "del", "desde", "donde",
	"dónde", "durante", "e", "el", "él", "ella", "ellas", "ello", "ellos", "en",
	"entre", "es", "esa", "esas", "ese", "eso", "esos", "esta", "está", "estaba",
	"estado", "están", "estar", "estas", "este", "esto", "estos", "fue", "fueron", "ha",
	"había", "habían", "han", "hasta", "hay", "la", "las", "le", "les", "lo",
	"los", "más", "me", "mi", "mí", "mis", "mucho", "muchos", "muy", "nada",
	"ni", "no", "nos", "nosotros", "nuestra", "nuestras", "nuestro", "nuestros", "o", "os",
	"otra", "otras", "otro", "otros", "para", "pero", "poco", "por", "porque", "qué",
	"que", "quien", "quienes", "quién", "se", "sea", "sean", "según", "ser", "si",
	"sí", "sido", "siendo", "sin", "sino", "sobre", "son", "su", "sus", "también",
	"tan", "tanto", "te", "tiene", "tienen", "todas", "todo", "todos", "toda", "tu",
	"tú", "tus", "u", "un", "una", "unas", "uno", "unos", "usted", "ustedes",
	"vosotros", "y", "ya", "yo",
}

// stopLists are the lists in the order of languages.
var stopLists = [len(languages)][]string{stopEN, stopIT, stopDE, stopFR, stopES}

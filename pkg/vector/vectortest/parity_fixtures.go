package vectortest

import "github.com/qdrant/go-client/qdrant"

// Fixtures: the points Qdrant's tests load, payloads copied from the tests
// (tests/openapi in github.com/qdrant/qdrant; Rust tests name their file).

// basicPoints is tests/openapi/helpers/collection_setup.py
// basic_collection_setup. Points 9 and 10 have only sparse vectors there;
// filters do not look at vectors.
var basicPoints = &parityFixture{
	name: "basic_collection_setup",
	points: `[
		{"id": 1, "payload": {"city": "Berlin", "price": 10.0}},
		{"id": 2, "payload": {"city": ["Berlin", "London"], "price": 11.0}},
		{"id": 3, "payload": {"city": ["Berlin", "Moscow"], "price": 9.5}},
		{"id": 4, "payload": {"city": ["London", "Moscow"], "price": 9}},
		{"id": 5, "payload": {"count": 0}},
		{"id": 6, "payload": null},
		{"id": 7, "payload": {"city": null, "price": null}},
		{"id": 8, "payload": {"city": [], "price": []}},
		{"id": 9, "payload": null},
		{"id": 10, "payload": {"city": [], "price": []}}
	]`,
	indexes: []parityIndex{
		{field: "city", typ: qdrant.FieldType_FieldTypeKeyword},
		{field: "count", typ: qdrant.FieldType_FieldTypeInteger},
	},
}

// multiPoints is collection_setup.py multipayload_collection_setup.
var multiPoints = &parityFixture{
	name: "multipayload_collection_setup",
	points: `[
		{"id": 1, "payload": {"city": "Berlin", "color": "red"}},
		{"id": 2, "payload": {"city": ["Berlin", "London"], "color": "green"}},
		{"id": 3, "payload": {"city": ["Berlin", "Moscow"], "color": "blue"}},
		{"id": 4, "payload": {"city": ["London", "Moscow"], "color": "red"}},
		{"id": 5, "payload": {"city": "Seoul", "color": "red", "count": 0}},
		{"id": 6, "payload": {"city": "Berlin", "color": "red", "count": 1, "price": 10.0}},
		{"id": 7, "payload": {"city": "London", "color": "red", "count": 0, "price": 50.0}},
		{"id": 8, "payload": {"city": "Moscow", "color": "red", "count": 1, "price": 100.0}}
	]`,
	indexes: []parityIndex{
		{field: "city", typ: qdrant.FieldType_FieldTypeKeyword},
		{field: "color", typ: qdrant.FieldType_FieldTypeKeyword},
		{field: "count", typ: qdrant.FieldType_FieldTypeInteger},
	},
}

// nestedPoints is tests/openapi/test_nested_payload_indexing.py
// nested_payload_collection_setup, with the indexes
// test_nested_payload_query.py creates.
var nestedPoints = &parityFixture{
	name: "nested_payload_collection_setup",
	points: `[
		{"id": 1, "payload": {"country": {"name": "Germany", "capital": "Berlin", "cities": [{"name": "Berlin", "population": 3.7, "location": {"lon": 13.76116, "lat": 52.33826}, "sightseeing": ["Brandenburg Gate", "Reichstag"]}, {"name": "Munich", "population": 1.5, "location": {"lon": 11.57549, "lat": 48.13743}, "sightseeing": ["Marienplatz", "Olympiapark"]}, {"name": "Hamburg", "population": 1.8, "location": {"lon": 9.99368, "lat": 53.55108}, "sightseeing": ["Reeperbahn", "Elbphilharmonie"]}]}}},
		{"id": 2, "payload": {"country": {"name": "England", "capital": "London", "cities": [{"name": "London", "population": 8.9, "location": {"lon": -0.12755, "lat": 51.50722}, "sightseeing": ["Big Ben", "London Eye", "Buckingham Palace"]}, {"name": "Manchester", "population": 2.5, "location": {"lon": -2.23743, "lat": 53.48095}, "sightseeing": ["Manchester United", "Manchester City"]}, {"name": "Liverpool", "population": 0.5, "location": {"lon": -2.97794, "lat": 53.41058}, "sightseeing": ["Anfield", "Albert Dock"]}]}}},
		{"id": 3, "payload": {"country": {"name": "France", "capital": "Paris", "cities": [{"name": "Paris", "population": 2.2, "location": {"lon": 2.35222, "lat": 48.85661}, "sightseeing": ["Eiffel Tower", "Louvre", "Notre Dame", "Arc de Triomphe"]}, {"name": "Marseille", "population": 0.9, "location": {"lon": 5.36978, "lat": 43.29648}, "sightseeing": ["Vieux Port", "Notre Dame de la Garde"]}, {"name": "Lyon", "population": 0.5, "location": {"lon": 4.83565, "lat": 45.76404}, "sightseeing": ["Place Bellecour", "Fourvière Basilica"]}]}}},
		{"id": 4, "payload": {"country": {"name": "Japan", "capital": "Tokyo", "cities": [{"name": "Tokyo", "population": 9.3, "location": {"lon": 139.69171, "lat": 35.6895}, "sightseeing": ["Tokyo Tower", "Tokyo Skytree"]}, {"name": "Osaka", "population": 2.7, "location": {"lon": 135.50217, "lat": 34.69374}, "sightseeing": ["Osaka Castle", "Universal Studios Japan"]}, {"name": "Kyoto", "population": 1.5, "location": {"lon": 135.76803, "lat": 35.01163}, "sightseeing": ["Kiyomizu-dera", "Fushimi Inari-taisha"]}]}}},
		{"id": 5, "payload": {"country": {"name": "Nauru", "cities": [{"name": null}]}}},
		{"id": 6, "payload": null}
	]`,
	indexes: []parityIndex{
		{field: "country.capital", typ: qdrant.FieldType_FieldTypeKeyword},
		{field: "country.cities[].population", typ: qdrant.FieldType_FieldTypeFloat},
	},
}

-- Requests per API route and UTC day, with a latency histogram, so usage analytics
-- can name the slowest routes. Every API replica adds its counts to the same rows;
-- the buckets' bounds are fixed in the code (routestats.BucketBoundsMs).
CREATE TABLE route_stats (
    day      date   NOT NULL,
    method   text   NOT NULL,
    route    text   NOT NULL,
    requests bigint NOT NULL,
    errors   bigint NOT NULL,
    sum_ms   double precision NOT NULL,
    buckets  bigint[] NOT NULL,
    PRIMARY KEY (day, method, route)
);

---- create above / drop below ----

DROP TABLE route_stats;

// Package checks holds the tests of the deployment artifacts under deploy/: the alert
// rules (promtool check and unit tests), the Grafana dashboards, the scrape and log
// pipeline configurations, and that every metric a dashboard or rule reads is one the
// programs export. It has no code of its own; `make test` runs it with the rest.
package checks

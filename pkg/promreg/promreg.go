// Package promreg registers a package's Prometheus collectors in one call, saying
// every one that failed and whose they are: a name registered twice is a wiring
// defect a program must report at start, not a panic in the middle of a request.
package promreg

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers every collector on reg; owner names the package in the error.
func Register(reg prometheus.Registerer, owner string, collectors ...prometheus.Collector) error {
	var errs []error
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("register %s metrics: %w", owner, err)
	}
	return nil
}

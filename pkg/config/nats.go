package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// NATS is how a program proves who it is to NATS and checks whom it talks to.
// Each program has a user of its own whose permissions allow only what that
// program does (package natsperm), so the credentials are per program, never
// shared. Credentials may also sit in YW_NATS_URL (nats://user:password@host).
type NATS struct {
	// User and Password are the program's NATS user (YW_NATS_USER,
	// YW_NATS_PASSWORD).
	User     string
	Password string
	// CredsFile is a decentralized-auth credentials file (JWT and NKey seed,
	// YW_NATS_CREDS), for servers run with operator mode instead of users.
	CredsFile string
	// CAFile holds the PEM certificates that sign the server's certificate
	// (YW_NATS_CA); setting it turns TLS on.
	CAFile string
	// CertFile and KeyFile are the program's own certificate and key (YW_NATS_CERT,
	// YW_NATS_KEY), for servers that verify clients (mutual TLS).
	CertFile string
	KeyFile  string
}

func loadNATS(r *reader, c *Config) {
	c.NATS = NATS{
		User:      r.str("YW_NATS_USER", ""),
		Password:  r.str("YW_NATS_PASSWORD", ""),
		CredsFile: r.str("YW_NATS_CREDS", ""),
		CAFile:    r.str("YW_NATS_CA", ""),
		CertFile:  r.str("YW_NATS_CERT", ""),
		KeyFile:   r.str("YW_NATS_KEY", ""),
	}
}

// TLSEnabled reports whether the NATS connection must use TLS.
func (n NATS) TLSEnabled() bool { return n.CAFile != "" || n.CertFile != "" }

// TLSConfig builds the client's TLS configuration from the files, or returns
// nil when TLS is not configured. Errors name the setting whose file is wrong.
func (n NATS) TLSConfig() (*tls.Config, error) {
	if !n.TLSEnabled() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if n.CAFile != "" {
		pem, err := os.ReadFile(n.CAFile)
		if err != nil {
			return nil, fmt.Errorf("YW_NATS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("YW_NATS_CA: %s holds no PEM certificate", n.CAFile)
		}
		cfg.RootCAs = pool
	}
	if n.CertFile != "" || n.KeyFile != "" {
		if n.CertFile == "" || n.KeyFile == "" {
			return nil, errors.New("YW_NATS_CERT and YW_NATS_KEY go together: set both or neither")
		}
		cert, err := tls.LoadX509KeyPair(n.CertFile, n.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("YW_NATS_CERT, YW_NATS_KEY: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// validateNATS checks that the credentials are given in one way only and that
// every file named can be read, so a wrong path fails the start with the
// setting's name instead of a refused connection.
func (c Config) validateNATS() []error {
	var errs []error
	n := c.NATS
	if (n.User == "") != (n.Password == "") {
		errs = append(errs, errors.New("YW_NATS_USER and YW_NATS_PASSWORD go together: set both or neither"))
	}
	urlHasUser := false
	if u, err := url.Parse(c.NATSURL); err == nil && u.User != nil {
		urlHasUser = true
	}
	ways := 0
	for _, set := range []bool{n.User != "", n.CredsFile != "", urlHasUser} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		errs = append(errs, errors.New("YW_NATS_USER, YW_NATS_CREDS: give the NATS credentials one way only: "+
			"YW_NATS_USER and YW_NATS_PASSWORD, a YW_NATS_CREDS file, or user:password in YW_NATS_URL"))
	}
	if n.CredsFile != "" {
		if _, err := os.ReadFile(n.CredsFile); err != nil {
			errs = append(errs, fmt.Errorf("YW_NATS_CREDS: %w", err))
		}
	}
	if (n.User != "" || n.CredsFile != "" || n.TLSEnabled()) && c.NATSURL == "" {
		errs = append(errs, errors.New("YW_NATS_URL: NATS credentials and TLS are for an external server; set its URL (the embedded server of -dev takes neither)"))
	}
	if _, err := n.TLSConfig(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func (c Config) natsString() string {
	password := ""
	if c.NATS.Password != "" {
		password = "[redacted]"
	}
	return fmt.Sprintf(" nats_user=%s nats_password=%s nats_creds=%s nats_ca=%s nats_cert=%s",
		c.NATS.User, password, c.NATS.CredsFile, c.NATS.CAFile, c.NATS.CertFile)
}

package chaos

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// NATSUser is the account one program kind connects to NATS with.
type NATSUser struct {
	// Kind is the program kind: "api", "ingest-worker", "agent-worker", "reindexer".
	Kind     string
	User     string
	Password string
}

// newNATSUsers makes one user with a fresh password per program kind.
func newNATSUsers(kinds ...string) []NATSUser {
	users := make([]NATSUser, len(kinds))
	for i, k := range kinds {
		users[i] = NATSUser{Kind: k, User: "yw-" + k, Password: randomHex(16)}
	}
	return users
}

// AuthorizationBlock is the cluster's `authorization` block: one user and
// password per program kind, each allowed everything. It is the one place the
// harness says who may do what on NATS, so least-privilege permissions per kind
// can replace it without touching the rest of the harness.
func AuthorizationBlock(users []NATSUser) string {
	var b strings.Builder
	b.WriteString("authorization {\n  users = [\n")
	for _, u := range users {
		fmt.Fprintf(&b, "    {user: %s, password: %s}\n", strconv.Quote(u.User), strconv.Quote(u.Password))
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

// natsNode is where one node of the cluster listens.
type natsNode struct {
	name                   string
	client, cluster, monit int
}

// natsConfig is the configuration file of node i of the cluster: JetStream with
// its store under dir, routes to every node, the users of AuthorizationBlock.
func natsConfig(nodes []natsNode, i int, dir string, users []NATSUser) string {
	n := nodes[i]
	var routes []string
	for _, o := range nodes {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", o.cluster))
	}
	return fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
max_payload: 8MB
jetstream {
  store_dir: %s
  max_memory_store: 256MB
  max_file_store: 4GB
}
cluster {
  name: youworker-chaos
  listen: 127.0.0.1:%d
  routes: [%s]
  connect_retries: 120
}
%s`, n.name, n.client, n.monit, strconv.Quote(filepath.Join(dir, n.name)), n.cluster, strings.Join(routes, ", "), AuthorizationBlock(users))
}

// natsURL is the client URL list of the cluster with a user's credentials in each
// address, as the programs take it in YW_NATS_URL.
func natsURL(nodes []natsNode, u NATSUser) string {
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		v := url.URL{Scheme: "nats", User: url.UserPassword(u.User, u.Password), Host: "127.0.0.1:" + strconv.Itoa(n.client)}
		urls[i] = v.String()
	}
	return strings.Join(urls, ",")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

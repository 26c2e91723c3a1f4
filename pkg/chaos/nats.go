package chaos

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/youworker/youworker/pkg/natsperm"
)

// NATSUser is the account one program kind connects to NATS with: its user
// name is the program's, as package natsperm names them.
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
		users[i] = NATSUser{Kind: k, User: k, Password: randomHex(16)}
	}
	return users
}

// AuthorizationBlock is the cluster's `authorization` block: each program kind
// gets the least-privilege permissions the deployment gives it (package
// natsperm), so the chaos run also proves they are enough under failures.
func AuthorizationBlock(users []NATSUser) (string, error) {
	passwords := make(map[string]string, len(users))
	for _, u := range users {
		passwords[u.User] = u.Password
	}
	return natsperm.Authorization(passwords)
}

// natsNode is where one node of the cluster listens.
type natsNode struct {
	name                   string
	client, cluster, monit int
}

// natsConfig is the configuration file of node i of the cluster: JetStream with
// its store under dir, routes to every node, the users of AuthorizationBlock.
func natsConfig(nodes []natsNode, i int, dir string, users []NATSUser) (string, error) {
	authorization, err := AuthorizationBlock(users)
	if err != nil {
		return "", err
	}
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
%s`, n.name, n.client, n.monit, strconv.Quote(filepath.Join(dir, n.name)), n.cluster, strings.Join(routes, ", "), authorization), nil
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

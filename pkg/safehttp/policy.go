package safehttp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrBlocked is matched (errors.Is) by every *BlockedError.
var ErrBlocked = errors.New("blocked address")

// BlockedError refuses a connection to an address the policy does not allow: a
// loopback, private, link-local, multicast, unspecified, shared (CGNAT),
// IPv4-mapped or cloud metadata address that no operator allow-listed.
type BlockedError struct {
	// Host is the host name of the URL, when the address came from one.
	Host string
	// Addr is the address refused.
	Addr netip.Addr
	// Range names the kind of address, like "loopback" or "cloud metadata".
	Range string
}

func (e *BlockedError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("%s resolves to %s, in the %s range, which is not fetched", e.Host, e.Addr, e.Range)
	}
	return fmt.Sprintf("%s is in the %s range, which is not fetched", e.Addr, e.Range)
}

// Is makes errors.Is(err, ErrBlocked) hold.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

type namedRange struct {
	prefix netip.Prefix
	name   string
}

func ranges(name string, cidrs ...string) []namedRange {
	out := make([]namedRange, len(cidrs))
	for i, c := range cidrs {
		out[i] = namedRange{netip.MustParsePrefix(c), name}
	}
	return out
}

// metadataRanges are the instance metadata services of cloud providers. They
// hand out credentials, so they stay blocked even inside an allow-listed range,
// unless the operator lists the very address (see Policy.Allow).
var metadataRanges = concat(
	ranges("cloud metadata",
		"169.254.169.254/32", // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
		"169.254.170.2/32",   // AWS ECS task metadata
		"168.63.129.16/32",   // Azure wire server (a public address)
		"100.100.100.200/32", // Alibaba Cloud
		"192.0.0.192/32",     // Oracle Cloud (legacy)
		"fd00:ec2::254/128",  // AWS over IPv6
	),
)

// deniedRanges are never fetched unless allow-listed: nothing on them is the
// public web, and a server inside the building must not be reachable through a
// URL a user typed.
var deniedRanges = concat(
	ranges("unspecified", "0.0.0.0/8", "::/128"),
	ranges("loopback", "127.0.0.0/8", "::1/128"),
	ranges("private", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10"),
	ranges("shared address space (CGNAT)", "100.64.0.0/10"),
	ranges("link-local", "169.254.0.0/16", "fe80::/10"),
	ranges("multicast", "224.0.0.0/4", "ff00::/8"),
	ranges("reserved", "240.0.0.0/4", "192.0.0.0/24", "198.18.0.0/15",
		"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "100::/64", "2001:db8::/32"),
	ranges("IPv4-mapped IPv6", "::ffff:0:0/96"),
	// Forms that embed an IPv4 address, which may be one of the above.
	ranges("IPv4-embedding IPv6", "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16"),
)

func concat(lists ...[]namedRange) []namedRange {
	var out []namedRange
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Policy decides which addresses may be connected to.
type Policy struct {
	// Allow lists the ranges an operator opened on purpose (an intranet wiki, or
	// the loopback servers of tests). An address inside one is allowed, except a
	// cloud metadata address, which is allowed only when a range of exactly one
	// address names it.
	Allow []netip.Prefix
}

// Check returns a *BlockedError when ip may not be connected to.
func (p Policy) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return &BlockedError{Addr: ip, Range: "invalid"}
	}
	ip = ip.WithZone("")
	// The IPv4 form first, so a mapped loopback address is named loopback.
	forms := []netip.Addr{ip}
	if ip.Is4In6() {
		forms = []netip.Addr{ip.Unmap(), ip}
	}
	for _, a := range forms {
		if name, ok := in(metadataRanges, a); ok {
			if p.allowsExactly(a) {
				return nil
			}
			return &BlockedError{Addr: ip, Range: name}
		}
	}
	for _, a := range forms {
		for _, allowed := range p.Allow {
			if allowed.Contains(a) {
				return nil
			}
		}
	}
	for _, a := range forms {
		if name, ok := in(deniedRanges, a); ok {
			return &BlockedError{Addr: ip, Range: name}
		}
	}
	return nil
}

func (p Policy) allowsExactly(a netip.Addr) bool {
	for _, allowed := range p.Allow {
		if allowed.IsSingleIP() && allowed.Addr() == a {
			return true
		}
	}
	return false
}

func in(list []namedRange, a netip.Addr) (string, bool) {
	for _, r := range list {
		if r.prefix.Contains(a) {
			return r.name, true
		}
	}
	return "", false
}

// ParsePrefixes reads a comma-separated list of CIDRs; a bare address is a range
// of one address.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				errs = append(errs, fmt.Errorf("%q is not an address or CIDR", part))
				continue
			}
			out = append(out, netip.PrefixFrom(a.WithZone(""), a.BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(part)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is not an address or CIDR", part))
			continue
		}
		out = append(out, pr.Masked())
	}
	return out, errors.Join(errs...)
}

// legacyIPv4 reads a host the way inet_aton and browsers do: one to four parts,
// each decimal, octal (leading 0) or hexadecimal (0x), the last part filling the
// remaining bytes, so 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 are all
// 127.0.0.1. ok is false when host is not such a number.
func legacyIPv4(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, part := range parts {
		if part == "" {
			return netip.Addr{}, false
		}
		base, digits := 10, part
		switch {
		case len(part) > 1 && (part[:2] == "0x" || part[:2] == "0X"):
			base, digits = 16, part[2:]
			if digits == "" {
				digits = "0"
			}
		case len(part) > 1 && part[0] == '0':
			base, digits = 8, part[1:]
		}
		n, err := strconv.ParseUint(digits, base, 64)
		if err != nil {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

package main

// Generic service tickets and the hosts' own /folder, for vs-pull --direct.
//
// The 0.24.2 library answers AcquireGenericServiceTicket with a random
// UUID that nothing ever checks, and its /folder has no authentication at
// all, so a client could get direct-to-host transfers wrong in every way
// and still pass.  The front handler therefore takes both over:
//
//   - AcquireGenericServiceTicket (with a live session) records the ticket
//     it returns: id -> the spec's method and URL.  The URL must name a
//     host of the inventory (https://HOST/folder/...?dsName=...).  The
//     answer carries hostName (the host's name) and sslThumbprint (the
//     SHA-1 of the simulator's certificate, colon-separated hex, as ESXi
//     gives it; -ticket-thumbprint replaces it, to play a vCenter whose
//     record of the host certificate is stale, or "none" to leave it out,
//     as older servers do).  -no-tickets answers with
//     a NotSupported fault instead.
//
//   - A /folder request whose Host header names a host of the inventory
//     (the simulator plays every host on its one address: clients reach it
//     with curl's --connect-to) is served as that host would: only with a
//     cookie vmware_cgi_ticket=<id> of a ticket never used before whose
//     spec names the same method and URL (Range aside).  A ticket is spent
//     by any attempt to use it.  No or an unknown ticket gives 401, a
//     ticket for another method or URL 403.  The file comes from the
//     datastore directory, with ranges (http.ServeContent).
//
// GET /h2k/stats returns the counters as JSON, for tests.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
)

type ticketSpec struct {
	method string // "httpGet", "httpHead", ...
	url    string
}

// hostDatastore is a datastore as a host sees it.
type hostDatastore struct {
	dir   string
	hosts map[string]bool // names of the hosts that mount it
}

type ticketStats struct {
	Issued        int `json:"tickets_issued"`
	Used          int `json:"tickets_used"`
	Refused       int `json:"host_requests_refused"`
	HostRequests  int `json:"host_requests"`
	HostGET       int `json:"host_get"`
	HostHEAD      int `json:"host_head"`
	SessionCookie int `json:"host_requests_with_session_cookie"`
}

type tickets struct {
	enabled    bool
	thumbprint string
	hosts      map[string]bool // lower-cased host names
	stores     map[string][]hostDatastore

	mu     sync.Mutex
	issued map[string]ticketSpec
	stats  ticketStats
}

// newTickets reads the hosts and datastores of the model once: the tests
// do not add any afterwards.
func newTickets(enabled bool, thumbprint string) *tickets {
	t := &tickets{
		enabled:    enabled,
		thumbprint: thumbprint,
		hosts:      make(map[string]bool),
		stores:     make(map[string][]hostDatastore),
		issued:     make(map[string]ticketSpec),
	}
	names := make(map[string]string) // moref -> host name
	for _, ref := range simulator.Map.All("HostSystem") {
		if h, ok := ref.(*simulator.HostSystem); ok {
			t.hosts[strings.ToLower(h.Name)] = true
			names[h.Self.Value] = h.Name
		}
	}
	for _, ref := range simulator.Map.All("Datastore") {
		d, ok := ref.(*simulator.Datastore)
		if !ok {
			continue
		}
		hd := hostDatastore{dir: d.Info.GetDatastoreInfo().Url, hosts: make(map[string]bool)}
		for _, m := range d.Host {
			if n, ok := names[m.Key.Value]; ok {
				hd.hosts[strings.ToLower(n)] = true
			}
		}
		t.stores[d.Name] = append(t.stores[d.Name], hd)
	}
	return t
}

// hostOf gives the host name of a Host header or URL authority, without
// the port, lower-cased.
func hostOf(authority string) string {
	h := authority
	if host, _, err := net.SplitHostPort(authority); err == nil {
		h = host
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

// isHostRequest tells whether a request is meant for one of the hosts
// rather than for vCenter.
func (t *tickets) isHostRequest(r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/folder") {
		return false
	}
	if _, err := r.Cookie("vmware_cgi_ticket"); err == nil {
		return true
	}
	return t.hosts[hostOf(r.Host)]
}

func newTicketID() string {
	b := make([]byte, 16)
	rand.Read(b)
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// acquire serves AcquireGenericServiceTicket.
func (t *tickets) acquire(w http.ResponseWriter, req *request) {
	if !t.enabled {
		writeFault(w, "NotSupported", "The operation is not supported on the object.", "")
		return
	}
	switch req.SpecMethod {
	case "httpGet", "httpHead", "httpPut", "httpPost", "httpDelete":
	default:
		writeFault(w, "InvalidArgument", "A specified parameter was not correct: spec.method",
			"<invalidProperty>spec.method</invalidProperty>")
		return
	}
	u, err := url.Parse(req.SpecURL)
	if err != nil || u.Scheme != "https" || !t.hosts[hostOf(u.Host)] || !strings.HasPrefix(u.Path, "/folder/") {
		writeFault(w, "InvalidArgument", "A specified parameter was not correct: spec.url (not a /folder URL of a host)",
			"<invalidProperty>spec.url</invalidProperty>")
		return
	}
	id := newTicketID()
	t.mu.Lock()
	t.issued[id] = ticketSpec{method: req.SpecMethod, url: req.SpecURL}
	t.stats.Issued++
	t.mu.Unlock()

	host := u.Hostname()
	inner := `<AcquireGenericServiceTicketResponse xmlns="urn:vim25"><returnval>` +
		`<id>` + xmlText(id) + `</id><hostName>` + xmlText(host) + `</hostName>`
	if t.thumbprint != "" {
		inner += `<sslThumbprint>` + xmlText(t.thumbprint) + `</sslThumbprint>`
	}
	inner += `</returnval></AcquireGenericServiceTicketResponse>`
	writeSOAP(w, http.StatusOK, inner)
}

// sameURL compares a request with a ticket's URL: host (port 443 may be
// left out), path (decoded) and query parameters.
func sameURL(r *http.Request, spec string) bool {
	u, err := url.Parse(spec)
	if err != nil {
		return false
	}
	port := func(authority string) string {
		if _, p, err := net.SplitHostPort(authority); err == nil {
			return p
		}
		return "443"
	}
	return hostOf(u.Host) == hostOf(r.Host) && port(u.Host) == port(r.Host) &&
		u.Path == r.URL.Path && reflect.DeepEqual(u.Query(), r.URL.Query())
}

func hostRefuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// serveHost serves a /folder request made to a host.
func (t *tickets) serveHost(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	t.stats.HostRequests++
	switch r.Method {
	case http.MethodGet:
		t.stats.HostGET++
	case http.MethodHead:
		t.stats.HostHEAD++
	}
	if _, err := r.Cookie(sessionCookie); err == nil {
		t.stats.SessionCookie++
	}
	var spec ticketSpec
	var found bool
	c, err := r.Cookie("vmware_cgi_ticket")
	if err == nil {
		spec, found = t.issued[c.Value]
		delete(t.issued, c.Value) // spent by any use, good or bad
	}
	if found {
		t.stats.Used++
	} else {
		t.stats.Refused++
	}
	t.mu.Unlock()

	if !found {
		w.Header().Set("WWW-Authenticate", `Basic realm="VMware HTTP server"`)
		hostRefuse(w, http.StatusUnauthorized, "401 Unauthorized: no valid service ticket (vmware_cgi_ticket)")
		return
	}
	want := map[string]string{http.MethodGet: "httpGet", http.MethodHead: "httpHead"}[r.Method]
	if spec.method != want || !sameURL(r, spec.url) {
		t.mu.Lock()
		t.stats.Used--
		t.stats.Refused++
		t.mu.Unlock()
		hostRefuse(w, http.StatusForbidden, "403 Forbidden: the service ticket is for "+spec.method+" "+spec.url)
		return
	}

	// The file: a datastore of that name mounted by this host.
	q := r.URL.Query()
	rel := strings.TrimPrefix(r.URL.Path, "/folder/")
	clean := path.Clean("/" + rel)
	if rel == "" || clean != "/"+rel {
		hostRefuse(w, http.StatusNotFound, "404 Not Found")
		return
	}
	host := hostOf(r.Host)
	for _, ds := range t.stores[q.Get("dsName")] {
		if !ds.hosts[host] {
			continue
		}
		f, err := os.Open(filepath.Join(ds.dir, filepath.FromSlash(clean)))
		if err != nil {
			break
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || st.IsDir() {
			break
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", st.ModTime(), f)
		return
	}
	hostRefuse(w, http.StatusNotFound, "404 Not Found")
}

func (t *tickets) serveStats(w http.ResponseWriter) {
	t.mu.Lock()
	s := t.stats
	t.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s)
}

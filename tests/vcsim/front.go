package main

// The front handler sits between the HTTP server and the simulator's own
// mux.  It works on SOAP requests rather than inside the simulator because
// wrapping the simulator's objects breaks its type assertions (see
// docs/vsphere.md 5.7).  What it adds:
//
//   - a trace of every request (-trace-file), so tests can check what a
//     client sent, and that it sent nothing at all;
//   - RetrievePropertiesEx paging: the library ignores maxObjects and never
//     returns a token, so the front handler cuts the library's full answer
//     into pages and serves ContinueRetrievePropertiesEx and
//     CancelRetrievePropertiesEx itself;
//   - forced session expiry (-expire-after) to exercise re-login;
//   - QueryChangedDiskAreas and changeId stamping (cbt.go);
//   - a broken server (-garbage) that answers with HTML or junk;
//   - generic service tickets and the hosts' ticket-checked /folder
//     (tickets.go), with counters at GET /h2k/stats.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"io/ioutil"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
)

const sessionCookie = "vmware_soap_session"

type frontOptions struct {
	traceFile   string
	maxObjects  int
	ignoreMax   bool
	expireAfter int
	cbtBlock    int64
	cbtSpan     int64
	garbage     string
	tickets     *tickets
}

// pageState is what is left of one paged RetrievePropertiesEx answer.
type pageState struct {
	session string
	limit   int
	objects [][]byte
}

type front struct {
	next http.Handler
	opt  frontOptions

	mu    sync.Mutex
	trace *os.File
	calls int
	pages map[string]*pageState
}

func newFront(next http.Handler, opt frontOptions) *front {
	f := &front{
		next:  next,
		opt:   opt,
		pages: make(map[string]*pageState),
	}
	if opt.traceFile != "" {
		t, err := os.OpenFile(opt.traceFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0600)
		if err != nil {
			log.Fatalf("-trace-file: %s", err)
		}
		f.trace = t
	}
	cbt.block = opt.cbtBlock
	cbt.span = opt.cbtSpan
	return f
}

func (f *front) close() {
	if f.trace != nil {
		f.trace.Close()
	}
}

// request holds the fields of a SOAP request the front handler looks at.
// Tags without a namespace match any namespace.
type request struct {
	XMLName     xml.Name
	This        string `xml:"_this"`
	Token       string `xml:"token"`
	MaxObjects  int    `xml:"options>maxObjects"`
	Snapshot    string `xml:"snapshot"`
	DeviceKey   int32  `xml:"deviceKey"`
	StartOffset int64  `xml:"startOffset"`
	ChangeId    string `xml:"changeId"`
	SpecMethod  string `xml:"spec>method"`
	SpecURL     string `xml:"spec>url"`
}

// parseRequest decodes the first element inside the SOAP Body.
func parseRequest(body []byte) (*request, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	inBody := false
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if !inBody {
			inBody = se.Name.Local == "Body"
			continue
		}
		req := new(request)
		if err := d.DecodeElement(req, &se); err != nil {
			return nil, err
		}
		return req, nil
	}
}

func sessionOf(r *http.Request) string {
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

func (f *front) traceRequest(r *http.Request, body []byte) {
	if f.trace == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(f.trace, "%s %s\n", r.Method, r.URL.RequestURI())
	if body != nil {
		f.trace.Write(body)
		f.trace.Write([]byte("\n"))
	}
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if serveControl(w, r) {
		return
	}
	w = countFolder(w, r)
	if r.URL.Path == "/h2k/stats" && r.Method == http.MethodGet {
		f.opt.tickets.serveStats(w)
		return
	}
	if f.opt.tickets.isHostRequest(r) {
		f.traceRequest(r, nil)
		f.opt.tickets.serveHost(w, r)
		return
	}
	sdk := r.URL.Path == "/sdk" || r.URL.Path == "/sdk/vimService"
	if !sdk || r.Method != http.MethodPost {
		f.traceRequest(r, nil)
		f.next.ServeHTTP(w, r)
		return
	}

	body, err := ioutil.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.traceRequest(r, body)

	switch f.opt.garbage {
	case "html":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>The vCenter service is starting up.</p></body></html>\n")
		return
	case "junk":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "\x01\x02 this is <not xml\n")
		return
	}

	req, err := parseRequest(body)
	if err != nil {
		// Let the simulator produce its own fault for a malformed body.
		f.forward(w, r, body)
		return
	}
	method := req.XMLName.Local
	session := sessionOf(r)

	if f.opt.expireAfter > 0 && session != "" {
		switch method {
		case "Login", "Logout", "RetrieveServiceContent":
		default:
			f.mu.Lock()
			f.calls++
			n := f.calls
			f.mu.Unlock()
			if n == f.opt.expireAfter {
				f.expire(r, session)
				notAuthenticated(w)
				return
			}
		}
	}

	if f.interceptCBT(w, r, body, method, req) {
		return
	}
	switch method {
	case "RetrievePropertiesEx":
		f.retrieve(w, r, body, req, session)
	case "ContinueRetrievePropertiesEx":
		f.continueRetrieve(w, r, req, session)
	case "CancelRetrievePropertiesEx":
		f.cancelRetrieve(w, r, req, session)
	case "Logout":
		f.dropPages(session)
		f.forward(w, r, body)
	case "QueryChangedDiskAreas":
		if !f.authenticated(r) {
			notAuthenticated(w)
			return
		}
		queryChangedDiskAreas(w, req)
	case "AcquireGenericServiceTicket":
		if !f.authenticated(r) {
			notAuthenticated(w)
			return
		}
		f.opt.tickets.acquire(w, req)
	case "ReconfigVM_Task", "CreateSnapshot_Task":
		rec := f.record(r, body)
		if rec.Code == http.StatusOK {
			afterTask(method, req, rec.Body.Bytes())
		}
		copyRecorder(w, rec)
	default:
		f.forward(w, r, body)
	}
}

func (f *front) forward(w http.ResponseWriter, r *http.Request, body []byte) {
	r.Body = ioutil.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	f.next.ServeHTTP(w, r)
}

// record runs a request through the simulator and keeps the answer.
func (f *front) record(r *http.Request, body []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.forward(rec, r, body)
	return rec
}

func copyRecorder(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// innerCall sends a SOAP body to the simulator with the client's cookie.
func (f *front) innerCall(r *http.Request, inner string) *httptest.ResponseRecorder {
	body := envelope(inner)
	req := httptest.NewRequest(http.MethodPost, "/sdk", bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	for _, c := range r.Cookies() {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, req)
	return rec
}

// authenticated asks the simulator whether the client's session is alive,
// with a call that needs one.
func (f *front) authenticated(r *http.Request) bool {
	rec := f.innerCall(r, `<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></CurrentTime>`)
	return rec.Code == http.StatusOK
}

// expire ends a session as an idle timeout on a real server would.
func (f *front) expire(r *http.Request, session string) {
	f.innerCall(r, `<Logout xmlns="urn:vim25"><_this type="SessionManager">`+xmlText(sessionManagerRef())+`</_this></Logout>`)
	f.dropPages(session)
}

func (f *front) dropPages(session string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, p := range f.pages {
		if p.session == session {
			delete(f.pages, k)
		}
	}
}

// splitResult finds, in a RetrievePropertiesEx answer, the byte ranges of
// the response element and of each returnval/objects element.  It scans
// tags rather than decoding: answers for 10,000 VMs run to tens of
// megabytes, and encoding/xml takes seconds over them.  That is safe on
// the simulator's own output, whose encoder escapes '<' and '>' in text
// and attribute values and writes no comments or CDATA.
func splitResult(body []byte) (respStart, respEnd int, objects [][2]int, err error) {
	depth, objStart := 0, 0
	respStart, respEnd = -1, -1
	for i := 0; ; {
		j := bytes.IndexByte(body[i:], '<')
		if j < 0 {
			break
		}
		s := i + j
		k := bytes.IndexByte(body[s:], '>')
		if k < 0 {
			return 0, 0, nil, fmt.Errorf("unterminated tag at %d", s)
		}
		e := s + k + 1
		i = e
		tag := body[s+1 : e-1]
		if len(tag) == 0 || tag[0] == '?' || tag[0] == '!' {
			continue
		}
		closing := tag[0] == '/'
		if closing {
			tag = tag[1:]
		}
		selfClosing := !closing && tag[len(tag)-1] == '/'
		name := tag
		if n := bytes.IndexAny(name, " \t\r\n/"); n >= 0 {
			name = name[:n]
		}
		objects5 := string(name) == "objects"
		if !closing {
			depth++
			if depth == 3 {
				respStart = s
			}
			if depth == 5 && objects5 {
				objStart = s
			}
		}
		if closing || selfClosing {
			if depth == 5 && objects5 {
				objects = append(objects, [2]int{objStart, e})
			}
			if depth == 3 {
				respEnd = e
			}
			depth--
		}
	}
	if respStart < 0 || respEnd < 0 {
		return 0, 0, nil, fmt.Errorf("no response element")
	}
	return respStart, respEnd, objects, nil
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// retrieve serves RetrievePropertiesEx, cutting the simulator's answer into
// pages of at most maxObjects objects.
func (f *front) retrieve(w http.ResponseWriter, r *http.Request, body []byte, req *request, session string) {
	limit := req.MaxObjects
	if f.opt.ignoreMax {
		// Upstream's simulator: every object in one answer, whatever
		// the client asked for.
		limit = 0
	}
	if f.opt.maxObjects > 0 && (limit <= 0 || limit > f.opt.maxObjects) {
		limit = f.opt.maxObjects
	}
	rec := f.record(r, body)
	if limit <= 0 || rec.Code != http.StatusOK {
		copyRecorder(w, rec)
		return
	}
	out := rec.Body.Bytes()
	_, _, objects, err := splitResult(out)
	if err != nil || len(objects) <= limit {
		copyRecorder(w, rec)
		return
	}

	var rest [][]byte
	for _, o := range objects[limit:] {
		rest = append(rest, append([]byte(nil), out[o[0]:o[1]]...))
	}
	token := newToken()
	f.mu.Lock()
	f.pages[token] = &pageState{session: session, limit: limit, objects: rest}
	f.mu.Unlock()

	// The first page is the simulator's own answer with the objects after
	// the limit replaced by the token.
	cut := objects[limit-1][1]
	end := objects[len(objects)-1][1]
	var page bytes.Buffer
	page.Write(out[:cut])
	page.WriteString("<token>" + token + "</token>")
	page.Write(out[end:])

	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(http.StatusOK)
	w.Write(page.Bytes())
}

func (f *front) continueRetrieve(w http.ResponseWriter, r *http.Request, req *request, session string) {
	if !f.authenticated(r) {
		notAuthenticated(w)
		return
	}
	f.mu.Lock()
	p := f.pages[req.Token]
	if p == nil || p.session != session {
		f.mu.Unlock()
		writeFault(w, "InvalidArgument", "A specified parameter was not correct: token", "<invalidProperty>token</invalidProperty>")
		return
	}
	// ContinueRetrievePropertiesEx has no options: the page size is the
	// one of the first call.
	limit := p.limit
	if limit > len(p.objects) {
		limit = len(p.objects)
	}
	chunk := p.objects[:limit]
	p.objects = p.objects[limit:]
	token := ""
	if len(p.objects) > 0 {
		token = newToken()
		f.pages[token] = p
	}
	delete(f.pages, req.Token)
	f.mu.Unlock()

	var inner bytes.Buffer
	inner.WriteString(`<ContinueRetrievePropertiesExResponse xmlns="urn:vim25"><returnval>`)
	for _, o := range chunk {
		inner.Write(o)
	}
	if token != "" {
		inner.WriteString("<token>" + token + "</token>")
	}
	inner.WriteString(`</returnval></ContinueRetrievePropertiesExResponse>`)
	writeSOAP(w, http.StatusOK, inner.String())
}

func (f *front) cancelRetrieve(w http.ResponseWriter, r *http.Request, req *request, session string) {
	f.mu.Lock()
	if p := f.pages[req.Token]; p != nil && p.session == session {
		delete(f.pages, req.Token)
	}
	f.mu.Unlock()
	writeSOAP(w, http.StatusOK, `<CancelRetrievePropertiesExResponse xmlns="urn:vim25"></CancelRetrievePropertiesExResponse>`)
}

// xmlText escapes s for use as XML character data or an attribute value.
func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// envelope wraps a SOAP body, declaring xsi so that answers written here
// use the "xsi:type" spelling real servers use (the simulator's own
// answers spell it "XMLSchema-instance:type").
func envelope(inner string) []byte {
	return []byte(xml.Header +
		`<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		`<soapenv:Body>` + inner + `</soapenv:Body></soapenv:Envelope>`)
}

func writeSOAP(w http.ResponseWriter, status int, inner string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	w.Write(envelope(inner))
}

// writeFault answers with a SOAP fault of type kind; detail is XML already
// escaped.
func writeFault(w http.ResponseWriter, kind, msg, detail string) {
	writeSOAP(w, http.StatusInternalServerError,
		`<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>`+xmlText(msg)+`</faultstring>`+
			`<detail><`+kind+`Fault xmlns="urn:vim25" xsi:type="`+kind+`">`+detail+`</`+kind+`Fault></detail></soapenv:Fault>`)
}

func notAuthenticated(w http.ResponseWriter) {
	writeFault(w, "NotAuthenticated", "The session is not authenticated.",
		`<object type="Folder">group-d1</object><privilegeId>System.View</privilegeId>`)
}

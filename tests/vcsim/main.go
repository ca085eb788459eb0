// h2k-vcsim: the vCenter/ESXi simulator the h2k tests run against.
//
// Debian ships govmomi's simulator library but not the vcsim program, so
// this small launcher starts the library's VPX (or, with -esx, ESX) model
// with vcsim-like flags and prints shell lines a test can eval:
//
//	export GOVC_URL='https://user:pass@127.0.0.1:PORT/sdk'
//	export VCSIM_DS_0_NAME='LocalDS_0' VCSIM_DS_0_DIR='/tmp/.../govcsim-DC0-LocalDS_0-123'
//	export VCSIM_PID=1234
//
// The last line printed is always the PID line, so a test can wait for it.
// /sdk is fronted by a handler (front.go) that adds what the 0.24.2 library
// lacks: RetrievePropertiesEx paging with tokens, QueryChangedDiskAreas,
// changeId stamping, forced session expiry, a request trace, and service
// tickets checked by the hosts' /folder (tickets.go).
//
// Build (see the Makefile rule "vcsim"):
//
//	cd tests/vcsim && GO111MODULE=off GOPATH=/usr/share/gocode go build -o h2k-vcsim .
package main

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

// shellQuote quotes s for a POSIX shell, so that odd datastore names and
// directories survive eval.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func hexColons(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

func main() {
	listen := flag.String("l", "127.0.0.1:8989", "listen address (port 0 picks a free port)")
	esx := flag.Bool("esx", false, "simulate a standalone ESXi host instead of vCenter")
	dc := flag.Int("dc", 1, "number of datacenters")
	cluster := flag.Int("cluster", 1, "number of clusters per datacenter")
	host := flag.Int("host", 3, "number of hosts per cluster")
	standalone := flag.Int("standalone-host", 1, "number of standalone hosts per datacenter")
	ds := flag.Int("ds", 1, "number of local datastores")
	vm := flag.Int("vm", 2, "number of VMs per resource pool")
	pool := flag.Int("pool", 0, "number of child resource pools per cluster")
	folder := flag.Int("folder", 0, "number of folders per datacenter")
	pg := flag.Int("pg", 1, "number of distributed port groups per datacenter")
	app := flag.Int("app", 0, "number of vApps per cluster")
	autostart := flag.Bool("autostart", true, "power on the model's VMs")
	username := flag.String("username", "", "accept only this user name (default: any)")
	password := flag.String("password", "", "accept only this password (default: any)")
	useTLS := flag.Bool("tls", true, "serve HTTPS")
	tlsCert := flag.String("tlscert", "", "PEM certificate file (default: the library's built-in one)")
	tlsKey := flag.String("tlskey", "", "PEM private key file")
	traceFile := flag.String("trace-file", "", "append every /sdk and /folder request (method, path, SOAP body) to this file")
	maxObjects := flag.Int("max-objects", 0, "cap on objects per RetrievePropertiesEx page, whatever the client asks (0: only the client's maxObjects)")
	ignoreMax := flag.Bool("ignore-max-objects", false, "answer RetrievePropertiesEx with every object in one reply, ignoring the client's maxObjects, as upstream's simulator does (-max-objects still applies)")
	expireAfter := flag.Int("expire-after", 0, "end the session of the N-th authenticated SOAP call (counted over all sessions) with a NotAuthenticated fault, once (0: never)")
	cbtBlock := flag.Int64("cbt-block", 65536, "QueryChangedDiskAreas block size in bytes")
	cbtSpan := flag.Int64("cbt-span", 1<<30, "QueryChangedDiskAreas: bytes of disk covered by one reply")
	diskSize := flag.Int64("disk-size", 0, "capacity in bytes of every VM's disks, a multiple of 1024 (0: the model's 1 MiB)")
	odd := flag.Bool("odd", false, "add the odd-names inventory (names with spaces, unicode, '/', '&', '<', quotes, '../../x'; several disks, NICs, snapshots, EFI)")
	inventory := flag.String("inventory-json", "", "write the simulator's own view of its VMs to this file (JSON lines)")
	noTickets := flag.Bool("no-tickets", false, "answer AcquireGenericServiceTicket with a NotSupported fault")
	ticketThumbprint := flag.String("ticket-thumbprint", "", "sslThumbprint to put in service tickets instead of the certificate's own SHA-1 (\"none\": leave it out)")
	garbage := flag.String("garbage", "", "answer every /sdk request with this instead of SOAP: \"html\" or \"junk\"")
	var vmDisks, vmMacs assignFlag
	flag.Var(&vmDisks, "vm-disk", "VM=PATH: put the local VMDK chain whose leaf descriptor is PATH behind VM, as vSphere stores it (repeatable; creates VM if missing; see vmdisk.go)")
	flag.Var(&vmMacs, "vm-mac", "VM=MAC: the MAC of VM's first NIC (repeatable)")
	registerControlFlags()
	flag.Parse()

	if flag.NArg() != 0 {
		log.Fatalf("unexpected argument %q", flag.Arg(0))
	}
	if (*username == "") != (*password == "") {
		log.Fatal("-username and -password go together")
	}
	if *cbtBlock <= 0 || *cbtSpan < *cbtBlock {
		log.Fatal("-cbt-block must be positive and -cbt-span at least one block")
	}

	var model *simulator.Model
	if *esx {
		model = simulator.ESX()
	} else {
		model = simulator.VPX()
		model.Datacenter = *dc
		model.Cluster = *cluster
		model.ClusterHost = *host
		model.Host = *standalone
		model.Pool = *pool
		model.Folder = *folder
		model.Portgroup = *pg
		model.App = *app
	}
	model.Datastore = *ds
	model.Machine = *vm
	model.Autostart = *autostart

	if err := model.Create(); err != nil {
		log.Fatalf("creating the model: %s", err)
	}

	if *diskSize < 0 || *diskSize%1024 != 0 {
		model.Remove()
		log.Fatal("-disk-size must be a multiple of 1024")
	}
	if *diskSize > 0 {
		setDiskSize(*diskSize)
	}

	if *odd {
		if err := addOddInventory(model); err != nil {
			model.Remove()
			log.Fatalf("odd-names inventory: %s", err)
		}
	}

	if len(vmDisks.names)+len(vmMacs.names) > 0 {
		if err := applyVMDisks(model, &vmDisks, &vmMacs); err != nil {
			model.Remove()
			log.Fatalf("-vm-disk/-vm-mac: %s", err)
		}
	}

	if *inventory != "" {
		if err := writeInventory(*inventory); err != nil {
			model.Remove()
			log.Fatalf("-inventory-json: %s", err)
		}
	}

	model.Service.Listen = &url.URL{Host: *listen}
	if *username != "" {
		model.Service.Listen.User = url.UserPassword(*username, *password)
	}
	if *useTLS {
		model.Service.TLS = new(tls.Config)
		if *tlsCert != "" {
			cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
			if err != nil {
				model.Remove()
				log.Fatalf("loading -tlscert/-tlskey: %s", err)
			}
			model.Service.TLS.Certificates = []tls.Certificate{cert}
		}
	}

	server := model.Service.NewServer()

	// Service tickets name the certificate the hosts present: the
	// simulator's own, since it plays every host.
	thumbprint := *ticketThumbprint
	if thumbprint == "" && *useTLS {
		s1 := sha1.Sum(server.Certificate().Raw)
		thumbprint = hexColons(s1[:])
	}
	if thumbprint == "none" {
		thumbprint = ""
	}

	// Put the front handler between the HTTP server and the simulator's
	// mux.  No client can have connected yet: the address is printed below.
	front := newFront(server.Config.Handler, frontOptions{
		traceFile:   *traceFile,
		maxObjects:  *maxObjects,
		ignoreMax:   *ignoreMax,
		expireAfter: *expireAfter,
		cbtBlock:    *cbtBlock,
		cbtSpan:     *cbtSpan,
		garbage:     *garbage,
		tickets:     newTickets(!*noTickets, thumbprint),
	})
	server.Config.Handler = front

	u := *server.URL
	if *username != "" {
		u.User = url.UserPassword(*username, *password)
	}
	fmt.Printf("export GOVC_URL=%s\n", shellQuote(u.String()))
	plain := *server.URL
	plain.User = nil
	fmt.Printf("export VCSIM_URL=%s VCSIM_HOSTPORT=%s\n", shellQuote(plain.String()), shellQuote(plain.Host))
	user := server.URL.User.Username()
	pass, _ := server.URL.User.Password()
	fmt.Printf("export GOVC_USERNAME=%s GOVC_PASSWORD=%s\n", shellQuote(user), shellQuote(pass))

	if *useTLS {
		raw := server.Certificate().Raw
		s1 := sha1.Sum(raw)
		s256 := sha256.Sum256(raw)
		fmt.Printf("export VCSIM_THUMBPRINT=%s VCSIM_THUMBPRINT256=%s\n", hexColons(s1[:]), hexColons(s256[:]))
		if f, err := server.CertificateFile(); err == nil {
			fmt.Printf("export VCSIM_CERT=%s\n", shellQuote(f))
		}
	}

	// The datastores, sorted by name, with the local directory behind each.
	var stores []*simulator.Datastore
	for _, ref := range simulator.Map.All("Datastore") {
		if d, ok := ref.(*simulator.Datastore); ok {
			stores = append(stores, d)
		}
	}
	sort.Slice(stores, func(i, j int) bool { return stores[i].Name < stores[j].Name })
	for i, d := range stores {
		dir := d.Info.GetDatastoreInfo().Url
		fmt.Printf("export VCSIM_DS_%d_NAME=%s VCSIM_DS_%d_DIR=%s\n", i, shellQuote(d.Name), i, shellQuote(dir))
	}
	fmt.Printf("export VCSIM_DS_COUNT=%d\n", len(stores))
	var dcs []string
	for _, ref := range simulator.Map.All("Datacenter") {
		dcs = append(dcs, ref.(*simulator.Datacenter).Name)
	}
	sort.Strings(dcs)
	fmt.Printf("export VCSIM_DATACENTERS=%s\n", shellQuote(strings.Join(dcs, "\n")))
	var hosts []string
	for _, ref := range simulator.Map.All("HostSystem") {
		hosts = append(hosts, ref.(*simulator.HostSystem).Name)
	}
	sort.Strings(hosts)
	fmt.Printf("export VCSIM_HOSTS=%s\n", shellQuote(strings.Join(hosts, "\n")))
	fmt.Printf("export VCSIM_PID=%d GOVC_SIM_PID=%d\n", os.Getpid(), os.Getpid())
	os.Stdout.Sync()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	<-sig

	front.close()
	server.Close()
	model.Remove()
}

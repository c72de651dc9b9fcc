// Command floorproxy is the benchmark's floor: a bare
// net/http/httputil.ReverseProxy with a transport tuned as a real proxy's
// would be. What it adds to latency and CPU is what any Go proxy on net/http
// pays; loadtest/bench measures Switchyard beside it.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:8089", "base URL to proxy every request to")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		log.Fatalf("floorproxy: bad --upstream %q", *upstream)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	// Full duplex: net/http's HTTP/1 server closes the request body once the
	// response starts, and the transport's final read of that body then tears
	// down the upstream connection mid-stream (golang/go#40747).
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: *listen, Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

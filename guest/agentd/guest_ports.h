/* guest/agentd/guest_ports.h — every port number that joins the guest and the host, in one place,
 * and the wire format of the guest→host channels (DESIGN.md, "Interfaces" 2 and 3).
 *
 * Vsock ports the guest LISTENS on (the host reaches them with `CONNECT <port>\n` on silo-vmm's
 * vsock Unix socket PATH):
 *   8080 HTTP agent, 8000 MCP, 9000 A2A (agentd bridges each to 127.0.0.1:<same port>),
 *   1024 agentd control (control_proto.h).
 *
 * Vsock ports the guest CONNECTS to on the host (CID 2). silo-vmm forwards a guest connection to
 * host port P to the Unix socket `PATH_P` (Firecracker's convention), so silod, which creates
 * those sockets per session before it starts the VMM, knows the session by the socket:
 *   1025 credentials and metadata   1026 egress   1027 silod's own API
 *
 * Guest loopback listeners agentd opens for the agent (in the guest's 127.0.0.0/8):
 *   127.0.0.1:3128  HTTP forward proxy (CONNECT, absolute-form GET/POST…)  -> HTTP(S)_PROXY
 *   127.0.0.1:53    DNS stub (UDP): every name → a synthetic 127.64.0.0/10 address
 *   *:80, *:443     transparent egress: a connection to a synthetic address is forwarded by the
 *                   name that address was handed out for (getsockname → name)
 *   127.0.0.1:1338  container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)
 *   127.0.0.1:1339  silod's API (AWS_ENDPOINT_URL_BEDROCK_AGENTCORE), bridged to host port 1027
 *
 * ---- Egress channel (host port 1026), one TCP-like stream per proxied connection ----------
 *   guest → host   `CONNECT <host>:<port>\n`
 *                  host: a DNS name (letters, digits, '-', '_', '.', 1–253 bytes, no empty label),
 *                  a dotted IPv4 address, or `[IPv6]`; port 1–65535. The whole line ≤ 300 bytes.
 *   host → guest   `OK <address>:<port>\n`   (the address actually connected to; IPv6 in [])
 *                  then raw bytes both ways until either side closes (half-close honoured).
 *              or  `ERR <status> <rule> <message…>\n` and the host closes. status is the HTTP
 *                  status agentd's proxy answers the agent with (400 bad request, 403 refused by
 *                  policy, 429 too many connections, 502 resolve/connect failed, 504 timed out);
 *                  rule is one token naming the rule that decided ([A-Za-z0-9_.:/-]+, e.g.
 *                  `loopback`, `private:10.0.0.0/8`, `silod-port`, `link-local`, `vpc`,
 *                  `limit`, `resolve`, `connect`, `syntax`); the message is printable ASCII.
 *                  The verdict line is ≤ 512 bytes.
 *
 * ---- Credentials channel (host port 1025), one request per connection ----------------------
 *   guest → host   `CREDENTIALS\n`
 *   host → guest   `OK <n>\n` followed by exactly n bytes (n ≤ 16384) of JSON in the container-
 *                  credentials shape: {"AccessKeyId":…, "SecretAccessKey":…, "Token":…,
 *                  "Expiration":"2026-12-04T20:00:00Z", "RoleArn":…}
 *              or  `ERR <status> <message…>\n` (404: the runtime has no role; 500: the source
 *                  failed). agentd serves the JSON as is and caches it until 5 min before
 *                  Expiration.
 *
 * ---- silod API channel (host port 1027) -----------------------------------------------------
 *   raw HTTP/1.1 in both directions: agentd bridges each connection to 127.0.0.1:1339 in the
 *   guest to one vsock connection to host port 1027; silod serves it as its own API (SigV4 with
 *   the vended credentials) and records which session it came from.
 *
 * Kernel command line keys silod adds for agentd: `silo.region=<region>` (→ AWS_REGION,
 * AWS_DEFAULT_REGION). */
#ifndef SILO_GUEST_AGENTD_GUEST_PORTS_H
#define SILO_GUEST_AGENTD_GUEST_PORTS_H

/* guest vsock ports (guest listens) */
#define GUEST_PORT_HTTP      8080
#define GUEST_PORT_MCP       8000
#define GUEST_PORT_A2A       9000
#define GUEST_PORT_CONTROL   1024

/* host vsock ports (guest connects to CID 2) */
#define HOST_PORT_CREDENTIALS 1025
#define HOST_PORT_EGRESS      1026
#define HOST_PORT_API         1027

/* guest loopback listeners agentd opens for the agent */
#define GUEST_LOOP_PROXY       3128
#define GUEST_LOOP_DNS         53
#define GUEST_LOOP_CREDENTIALS 1338
#define GUEST_LOOP_API         1339

/* the synthetic addresses the DNS stub hands out: 127.64.0.0/10 */
#define GUEST_SYNTH_NET  0x7f400000u
#define GUEST_SYNTH_MASK 0xffc00000u

#define EGRESS_MAX_REQUEST_LINE 300
#define EGRESS_MAX_VERDICT_LINE 512
#define CREDENTIALS_MAX_JSON    16384

#endif

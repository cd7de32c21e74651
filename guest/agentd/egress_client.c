/* guest/agentd/egress_client.c — the guest end of the egress channel (see egress_client.h). */
#include "guest/agentd/egress_client.h"
#include "guest/agentd/host_channel.h"
#include "base/mono_time.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int slots_in_use;

bool egress_slot_take(void)
{
    if (atomic_fetch_add(&slots_in_use, 1) >= EGRESS_MAX_CONNECTIONS) {
        atomic_fetch_sub(&slots_in_use, 1);
        return false;
    }
    return true;
}

void egress_slot_release(void) { atomic_fetch_sub(&slots_in_use, 1); }

static void refuse(struct egress_verdict *v, int status, const char *message)
{
    v->ok = false;
    v->status = status;
    snprintf(v->rule, sizeof v->rule, "agentd");
    snprintf(v->message, sizeof v->message, "%s", message);
}

static bool is_rule_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("_.:/-", c) != NULL);
}

void egress_verdict_parse(const char *line, struct egress_verdict *v)
{
    memset(v, 0, sizeof *v);
    if (strncmp(line, "OK", 2) == 0 && (line[2] == '\0' || line[2] == ' ')) {
        v->ok = true;
        v->status = 200;
        return;
    }
    const char *p = line + 4;
    if (strncmp(line, "ERR ", 4) != 0 || p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
        p[2] < '0' || p[2] > '9' || p[3] != ' ') {
        refuse(v, 502, "the egress channel answered something unexpected");
        return;
    }
    int status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    p += 4;
    size_t rule_len = 0;
    while (is_rule_char(p[rule_len]))
        rule_len++;
    if (rule_len == 0 || rule_len >= sizeof v->rule || (p[rule_len] != ' ' && p[rule_len] != '\0')) {
        refuse(v, 502, "the egress channel answered something unexpected");
        return;
    }
    v->status = status < 400 ? 502 : status;
    memcpy(v->rule, p, rule_len);
    p += rule_len + (p[rule_len] == ' ');
    size_t n = 0;
    for (; p[n] != '\0' && n + 1 < sizeof v->message; n++)
        v->message[n] = (p[n] >= 0x20 && p[n] < 0x7f) ? p[n] : '?';
    v->message[n] = '\0';
    if (n == 0)
        snprintf(v->message, sizeof v->message, "refused");
}

int egress_open(const char *host, uint16_t port, struct egress_verdict *v)
{
    char request[EGRESS_MAX_REQUEST_LINE + 1], line[EGRESS_MAX_VERDICT_LINE + 1];
    int n = snprintf(request, sizeof request, "CONNECT %s:%u\n", host, (unsigned)port);
    if (n < 0 || (size_t)n > EGRESS_MAX_REQUEST_LINE) {
        refuse(v, 400, "host name too long");
        return -1;
    }
    int fd = host_channel_connect(HOST_PORT_EGRESS);
    if (fd < 0) {
        refuse(v, 502, "the egress channel to the host is unavailable");
        return -1;
    }
    if (host_channel_write_all(fd, request, (size_t)n) < 0) {
        close(fd);
        refuse(v, 502, "the egress channel to the host closed");
        return -1;
    }
    int got = host_channel_read_line(fd, line, sizeof line, mono_ms() + EGRESS_VERDICT_TIMEOUT_MS);
    if (got < 0) {
        close(fd);
        if (got == -2)
            refuse(v, 504, "the host gave no verdict in time");
        else
            refuse(v, 502, "the egress channel closed without a verdict");
        return -1;
    }
    egress_verdict_parse(line, v);
    if (!v->ok) {
        close(fd);
        return -1;
    }
    return fd;
}

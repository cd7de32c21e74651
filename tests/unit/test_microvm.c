/* tests/unit/test_microvm.c — the guest channel (frontend/microvm.c): the VMM's command line,
 * the spawn policy (own process group, no leaked descriptor, and PR_SET_PDEATHSIG SIGTERM for a
 * session's VMM started by silod's launcher and for a boot-check VMM alike — observed by killing
 * the parent with SIGKILL in a forked harness, with stand-ins for silo-vmm), the vsock client
 * against a stand-in agentd speaking control_proto's codec, and readiness by protocol. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/mono_time.h"
#include "frontend/microvm.h"
#include "frontend/vm_template.h"
#include "frontend/vmm_launcher.h"
#include "guest/agentd/control_proto.h"
#include "tests/unit/check.h"

static char dir[64];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void read_file(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Waits up to ms for path to hold text (as a prefix). */
static bool file_says(const char *path, const char *text, int ms)
{
    char buf[256];
    for (int waited = 0; waited <= ms; waited += 20) {
        read_file(path, buf, sizeof buf);
        if (strncmp(buf, text, strlen(text)) == 0)
            return true;
        usleep(20000);
    }
    return false;
}

/* ---- the command line ------------------------------------------------------------------- */

static void test_argv(void)
{
    const char *argv[MICROVM_ARGV_MAX];
    char buf[512];
    struct microvm_params p = { .vmm_path = "/bin/silo-vmm", .kernel = "/k/Image", .initrd = "/k/initrd",
                                .cmdline = "console=ttyS0 x=1", .shape = { 384, 3 }, .disk = "/img/a-v1.ext4",
                                .vsock_path = "/run/s1.sock", .verify_wipe = true };
    int n = microvm_argv(&p, argv, MICROVM_ARGV_MAX, buf, sizeof buf);
    static const char *const want[] = { "/bin/silo-vmm", "--kernel", "/k/Image", "--initrd", "/k/initrd",
                                        "--cmdline", "console=ttyS0 x=1", "--mem", "384M", "--cpus", "3",
                                        "--disk", "/img/a-v1.ext4,cow", "--vsock-cid", "3", "--vsock-uds",
                                        "/run/s1.sock", "--verify-wipe" };
    CHECK_EQ(n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n && i < (int)(sizeof want / sizeof want[0]); i++)
        CHECK(strcmp(argv[i], want[i]) == 0);
    CHECK(argv[n > 0 ? n : 0] == NULL);
    /* defaults: no initrd, the agent command line, the VM shape of microvm.h */
    struct microvm_params d = { .vmm_path = "v", .kernel = "k", .initrd = "", .disk = "d", .vsock_path = "s" };
    n = microvm_argv(&d, argv, MICROVM_ARGV_MAX, buf, sizeof buf);
    CHECK_EQ(n, 15);
    CHECK(strcmp(argv[3], "--cmdline") == 0 && strcmp(argv[4], MICROVM_AGENT_CMDLINE) == 0);
    CHECK(strcmp(argv[6], "512M") == 0 && strcmp(argv[8], "2") == 0);
    /* what does not fit is refused, never cut */
    CHECK_EQ(microvm_argv(&p, argv, MICROVM_ARGV_MAX, buf, 12), -1);
    CHECK_EQ(microvm_argv(&p, argv, 10, buf, sizeof buf), -1);
    d.kernel = NULL;
    CHECK_EQ(microvm_argv(&d, argv, MICROVM_ARGV_MAX, buf, sizeof buf), -1);
    /* taking a template: the boot command line plus --snapshot-to */
    p.snapshot_to = "/img/a-v1.snap.tmp";
    n = microvm_argv(&p, argv, MICROVM_ARGV_MAX, buf, sizeof buf);
    CHECK(n == 20 && strcmp(argv[18], "--snapshot-to") == 0 && strcmp(argv[19], "/img/a-v1.snap.tmp") == 0);
    /* restoring: only the snapshot, the new socket, the wipe check and the keeper */
    p.restore_dir = "/img/a-v1.snap";
    p.wipe_keeper = true;
    n = microvm_argv(&p, argv, MICROVM_ARGV_MAX, buf, sizeof buf);
    static const char *const rwant[] = { "/bin/silo-vmm", "--restore", "/img/a-v1.snap", "--vsock-uds",
                                         "/run/s1.sock", "--verify-wipe", "--wipe-keeper" };
    CHECK_EQ(n, 7);
    for (int i = 0; i < n && i < 7; i++)
        CHECK(strcmp(argv[i], rwant[i]) == 0);
    CHECK(argv[7] == NULL);
    CHECK_EQ(microvm_argv(&p, argv, 7, buf, sizeof buf), -1);
    /* a boot with the keeper */
    p.restore_dir = NULL;
    p.snapshot_to = NULL;
    n = microvm_argv(&p, argv, MICROVM_ARGV_MAX, buf, sizeof buf);
    CHECK(n == 19 && strcmp(argv[17], "--verify-wipe") == 0 && strcmp(argv[18], "--wipe-keeper") == 0);
    p.restore_dir = "/img/a-v1.snap";
    p.vsock_path = NULL;
    CHECK_EQ(microvm_argv(&p, argv, MICROVM_ARGV_MAX, buf, sizeof buf), -1);
}

/* ---- agentd's control protocol through the codec ---------------------------------------- */

static void agent_line(enum cp_verb verb, enum cp_agent_state state, int code, int sig, char *line, size_t len)
{
    struct cp_response r = { .verb = verb, .ok = true };
    r.u.agent.state = state;
    r.u.agent.pid = 42;
    r.u.agent.code = code;
    r.u.agent.signal = sig;
    CHECK(cp_encode_response(&r, line, len) > 0);
}

static void test_agent_state_codec(void)
{
    char line[CP_MAX_LINE + 1], why[128];
    agent_line(CP_STATUS, CP_AGENT_RUNNING, 0, 0, line, sizeof line);
    CHECK_EQ(microvm_agent_state_line(line, why, sizeof why), 1);
    agent_line(CP_STATUS, CP_AGENT_STARTING, 0, 0, line, sizeof line);
    CHECK_EQ(microvm_agent_state_line(line, why, sizeof why), 1);
    agent_line(CP_WAIT, CP_AGENT_EXITED, 3, 0, line, sizeof line);
    CHECK_EQ(microvm_agent_state_line(line, why, sizeof why), 0);
    CHECK(strcmp(why, "the agent exited with status 3") == 0);
    agent_line(CP_STATUS, CP_AGENT_KILLED, 0, 9, line, sizeof line);
    CHECK_EQ(microvm_agent_state_line(line, why, sizeof why), 0);
    CHECK(strncmp(why, "the agent was killed by signal 9 ", 33) == 0);
    agent_line(CP_WAIT, CP_AGENT_FAILED, ENOENT, 0, line, sizeof line);
    CHECK_EQ(microvm_agent_state_line(line, why, sizeof why), 0);
    CHECK(strstr(why, "could not be started") != NULL);
    /* what the old hand parser took on a prefix is now decoded whole, or refused */
    CHECK_EQ(microvm_agent_state_line("OK STATUS state=running ", why, sizeof why), -1);
    CHECK_EQ(microvm_agent_state_line("OK STATUS state=running pid=1 code=0 signal=0 extra=1", why, sizeof why), -1);
    CHECK_EQ(microvm_agent_state_line("ERR STATUS no_agent", why, sizeof why), -1);
    CHECK_EQ(microvm_agent_state_line("OK READY http=1 mcp=0 a2a=0", why, sizeof why), -1);
    CHECK_EQ(microvm_agent_state_line("", why, sizeof why), -1);
}

static void test_protocols(void)
{
    CHECK_EQ(microvm_protocol_of(NULL), MICROVM_HTTP);
    CHECK_EQ(microvm_protocol_of("not json"), MICROVM_HTTP);
    CHECK_EQ(microvm_protocol_of("{\"protocolConfiguration\":{\"serverProtocol\":\"MCP\"}}"), MICROVM_MCP);
    CHECK_EQ(microvm_protocol_of("{\"protocolConfiguration\":{\"serverProtocol\":\"A2A\"}}"), MICROVM_A2A);
    CHECK_EQ(microvm_protocol_of("{\"protocolConfiguration\":{\"serverProtocol\":\"AGUI\"}}"), MICROVM_HTTP);
    CHECK_EQ(microvm_protocol_of("{\"protocolConfiguration\":{\"serverProtocol\":7}}"), MICROVM_HTTP);
    CHECK(strcmp(microvm_protocol_name(MICROVM_MCP), "MCP") == 0);
}

/* ---- a stand-in VMM socket with a stand-in agentd on the control port ------------------- */

static int server_fd = -1;
static pthread_t server_thread;
static struct cp_response served;       /* the answer to STATUS / WAIT / READY */
static int card_status;                 /* non-zero: GUEST_PORT_A2A answers any GET with it */
static char card_request[256];          /* the request line it was sent */

/* An A2A agent on GUEST_PORT_A2A: one GET, answered with card_status. */
static void serve_a2a(int c)
{
    char line[256], answer[128];
    static const char ok[] = "OK 1073741824\n";
    if (write(c, ok, sizeof ok - 1) != (ssize_t)(sizeof ok - 1) ||
        microvm_read_line(c, line, sizeof line, mono_ms() + 2000) != 0)
        return;
    snprintf(card_request, sizeof card_request, "%s", line);
    int n = snprintf(answer, sizeof answer, "HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\n{}", card_status);
    if (write(c, answer, (size_t)n) != n)
        return;
}

static void serve_one(int c)
{
    char line[128];
    unsigned port = 0;
    if (microvm_read_line(c, line, sizeof line, mono_ms() + 2000) != 0 || sscanf(line, "CONNECT %u", &port) != 1)
        return;
    if (port == GUEST_PORT_A2A && card_status) {
        serve_a2a(c);
        return;
    }
    if (port != GUEST_PORT_CONTROL)
        return;                          /* any other port: refused (closed) */
    static const char ok[] = "OK 1073741824\n";
    enum cp_verb verb;
    if (write(c, ok, sizeof ok - 1) != (ssize_t)(sizeof ok - 1) ||
        microvm_read_line(c, line, sizeof line, mono_ms() + 2000) != 0 ||
        cp_decode_request(line, strlen(line), &verb) != 0)
        return;
    struct cp_response r = served;
    r.verb = verb;
    if (verb == CP_READY)
        r.u.ready.ports = served.u.ready.ports;
    char out[CP_MAX_LINE + 1];
    int n = cp_encode_response(&r, out, sizeof out);
    if (n > 0 && write(c, out, (size_t)n) != n)
        return;
}

static void *server_main(void *unused)
{
    (void)unused;
    int c;
    while ((c = accept(server_fd, NULL, NULL)) >= 0) {
        serve_one(c);
        close(c);
    }
    return NULL;
}

static void server_start(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    CHECK(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strnlen(path, sizeof sa.sun_path - 1));
    unlink(path);
    server_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(server_fd >= 0 && bind(server_fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(server_fd, 16) == 0);
    CHECK(pthread_create(&server_thread, NULL, server_main, NULL) == 0);
}

static void server_stop(void)
{
    shutdown(server_fd, SHUT_RDWR);
    pthread_join(server_thread, NULL);
    close(server_fd);
    server_fd = -1;
}

static void set_agent(enum cp_agent_state state, int code)
{
    memset(&served, 0, sizeof served);
    served.ok = true;
    served.verb = CP_STATUS;
    served.u.agent.state = state;
    served.u.agent.pid = 7;
    served.u.agent.code = code;
}

static void test_control_and_readiness(void)
{
    char sock[128], why[256];
    snprintf(sock, sizeof sock, "%s/agentd.sock", dir);
    server_start(sock);
    set_agent(CP_AGENT_RUNNING, 0);
    CHECK(microvm_agent_running(sock, 2000));
    set_agent(CP_AGENT_STARTING, 0);
    CHECK(microvm_agent_running(sock, 2000));
    set_agent(CP_AGENT_EXITED, 1);
    CHECK(!microvm_agent_running(sock, 2000));
    CHECK(microvm_connect(sock, GUEST_PORT_HTTP, 1000) < 0);        /* refused port */
    CHECK(!microvm_agent_running("/nonexistent/sock", 500));

    /* A2A readiness: GET of the agent card on 9000 answers 200 (a port that merely accepts, or
     * a 404, is not ready) */
    pid_t none = 0;
    card_status = 404;
    struct microvm_wait w = { .protocol = MICROVM_A2A, .deadline_ms = mono_ms() + 300 };
    CHECK_EQ(microvm_wait_ready(&none, sock, &w, NULL, why, sizeof why), MICROVM_TIMED_OUT);
    CHECK(strcmp(why, "the agent answers GET /.well-known/agent-card.json with 404") == 0);
    card_status = 200;
    w = (struct microvm_wait){ .protocol = MICROVM_A2A, .deadline_ms = mono_ms() + 3000 };
    CHECK_EQ(microvm_wait_ready(&none, sock, &w, NULL, why, sizeof why), MICROVM_READY);
    CHECK(strncmp(card_request, "GET /.well-known/agent-card.json HTTP/1.1", 41) == 0);
    card_status = 0;
    /* the contracts: one place per protocol */
    CHECK_EQ(microvm_contract(MICROVM_A2A)->port, GUEST_PORT_A2A);
    CHECK(strcmp(microvm_contract(MICROVM_A2A)->invoke_path, "/") == 0);
    CHECK(!microvm_contract(MICROVM_A2A)->pinged && !microvm_contract(MICROVM_MCP)->pinged &&
          microvm_contract(MICROVM_HTTP)->pinged);
    CHECK(strcmp(microvm_protocol_name(MICROVM_A2A), "A2A") == 0);
    /* HTTP: nothing answers /ping — timed out, saying so */
    w = (struct microvm_wait){ .protocol = MICROVM_HTTP, .deadline_ms = mono_ms() + 300 };
    CHECK_EQ(microvm_wait_ready(&none, sock, &w, NULL, why, sizeof why), MICROVM_TIMED_OUT);
    CHECK(strcmp(why, "the agent does not answer GET /ping on port 8080") == 0);
    /* watching the agent: a WAIT answered "exited 3" ends the wait at once */
    set_agent(CP_AGENT_EXITED, 3);
    w = (struct microvm_wait){ .protocol = MICROVM_HTTP, .deadline_ms = mono_ms() + 5000, .watch_agent = true };
    int64_t t0 = mono_ms();
    CHECK_EQ(microvm_wait_ready(&none, sock, &w, NULL, why, sizeof why), MICROVM_AGENT_ENDED);
    CHECK(strcmp(why, "the agent exited with status 3") == 0);
    CHECK(mono_ms() - t0 < 2000);
    /* cancelled */
    volatile sig_atomic_t cancel = 1;
    w = (struct microvm_wait){ .protocol = MICROVM_HTTP, .deadline_ms = mono_ms() + 5000, .cancelled = &cancel };
    CHECK_EQ(microvm_wait_ready(&none, sock, &w, NULL, why, sizeof why), MICROVM_CANCELLED);
    server_stop();
    /* no agentd at all, watching: the boot check's first complaint */
    w = (struct microvm_wait){ .protocol = MICROVM_HTTP, .deadline_ms = mono_ms() + 300, .watch_agent = true };
    CHECK_EQ(microvm_wait_ready(&none, sock, &w, NULL, why, sizeof why), MICROVM_TIMED_OUT);
    CHECK(strncmp(why, "agentd never answered on vsock port 1024", 40) == 0);
}

/* ---- the spawn policy ------------------------------------------------------------------- */

/* A stand-in for silo-vmm: notes its descriptors, says "started", and on SIGTERM says "TERM"
 * (what silo-vmm does then: end the VM, wipe, exit). */
static void write_standin(const char *path, const char *mark, const char *fds)
{
    char script[1024];
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "trap 'echo TERM >%s; exit 0' TERM\n"
             "ls /proc/$$/fd >%s\n"
             "echo started >%s\n"
             "while :; do sleep 0.05; done\n", mark, fds, mark);
    write_file(path, script, 0755);
}

struct spawn_args {
    const char *vmm;
    pid_t pid;
};

static void *spawn_in_thread(void *arg)
{
    struct spawn_args *a = arg;
    char sock[128], err[128];
    snprintf(sock, sizeof sock, "%s/boot.sock", dir);
    struct microvm_params p = { .vmm_path = a->vmm, .kernel = "/nonexistent/Image", .disk = "/nonexistent/img",
                                .vsock_path = sock, .stdout_fd = MICROVM_FD_NULL, .stderr_fd = MICROVM_FD_INHERIT };
    a->pid = microvm_spawn(&p, err, sizeof err);
    return NULL;
}

/* The boot check's way (builder/silod_build_image.c): microvm_spawn. Here from a thread that
 * ends at once — the VMM must outlive that thread (the spawner thread forks), but not the
 * process: SIGKILL to the harness → SIGTERM to the VMM. */
static void test_boot_check_vmm_gets_sigterm(void)
{
    char vmm[128], mark[128], fds[128];
    snprintf(vmm, sizeof vmm, "%s/vmm-boot.sh", dir);
    snprintf(mark, sizeof mark, "%s/boot.mark", dir);
    snprintf(fds, sizeof fds, "%s/boot.fds", dir);
    write_standin(vmm, mark, fds);
    int report[2];
    CHECK(pipe(report) == 0);
    pid_t harness = fork();
    if (harness == 0) {
        /* a descriptor past 1024 without O_CLOEXEC: it must not reach the VMM */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max > 1600) {
            rl.rlim_cur = rl.rlim_max > 4096 ? 4096 : rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            dup2(report[1], 1500);
        }
        struct spawn_args a = { vmm, -1 };
        pthread_t t;
        if (pthread_create(&t, NULL, spawn_in_thread, &a) != 0 || pthread_join(t, NULL) != 0)
            _exit(1);
        if (write(report[1], &a.pid, sizeof a.pid) != (ssize_t)sizeof a.pid)
            _exit(1);
        for (;;)
            pause();
    }
    close(report[1]);
    pid_t vmm_pid = -1;
    CHECK(read(report[0], &vmm_pid, sizeof vmm_pid) == (ssize_t)sizeof vmm_pid);
    close(report[0]);
    CHECK(vmm_pid > 0);
    CHECK(file_says(mark, "started", 5000));
    CHECK_EQ(getpgid(vmm_pid), vmm_pid);                      /* a process group of its own */
    usleep(300000);                                           /* the spawning thread is long gone */
    CHECK(file_says(mark, "started", 0));
    char list[512];
    read_file(fds, list, sizeof list);
    CHECK(strstr(list, "1500") == NULL);                     /* no descriptor leaked */
    kill(harness, SIGKILL);
    waitpid(harness, NULL, 0);
    CHECK(file_says(mark, "TERM", 5000));                     /* parent-death signal: SIGTERM */
    if (vmm_pid > 0)
        kill(vmm_pid, SIGKILL);
}

/* A session's way (silod): the launcher starts the VMM (a stand-in around fake_vmm, which
 * answers /ping so the session becomes ready); SIGKILL to the harness (silod) → SIGTERM. */
static void test_session_vmm_gets_sigterm(void)
{
    char self[4096], fake[4200], vmm[128], mark[128], script[5000];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    self[n > 0 ? n : 0] = '\0';
    snprintf(fake, sizeof fake, "%s/../host/bin/fake_vmm", dirname(self));
    CHECK(access(fake, X_OK) == 0);
    snprintf(vmm, sizeof vmm, "%s/vmm-session.sh", dir);
    snprintf(mark, sizeof mark, "%s/session.mark", dir);
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "trap 'echo TERM >%s; kill $c; exit 0' TERM\n"
             "%s \"$@\" & c=$!\n"
             "echo started >%s\n"
             "wait\n", mark, fake, mark);
    write_file(vmm, script, 0755);
    int report[2];
    CHECK(pipe(report) == 0);
    pid_t harness = fork();
    if (harness == 0) {
        struct vmm_launcher_config lc = { vmm, "/nonexistent/Image", NULL, "/nonexistent", dir, 1, 5000,
                                          NULL, false, NULL, NULL, NULL, NULL, false, NULL, false };
        struct session_launcher l = vmm_launcher(&lc);
        struct session_spec spec = { "session-0123456789abcdef0123456789abc", "rt-0123456789", 1, "{}", 128 };
        struct session_vm vm = { 0 };
        char err[256];
        pid_t pid = l.start(l.ctx, &spec, &vm, err, sizeof err) == 0 ? vm.pid : -1;
        if (pid < 0)
            fprintf(stderr, "# session start: %s\n", err);
        if (write(report[1], &pid, sizeof pid) != (ssize_t)sizeof pid)
            _exit(1);
        for (;;)
            pause();
    }
    close(report[1]);
    pid_t vmm_pid = -1;
    CHECK(read(report[0], &vmm_pid, sizeof vmm_pid) == (ssize_t)sizeof vmm_pid);
    close(report[0]);
    CHECK(vmm_pid > 0);                                       /* ready: fake_vmm answered /ping */
    CHECK(file_says(mark, "started", 0));
    CHECK_EQ(getpgid(vmm_pid), vmm_pid);
    kill(harness, SIGKILL);
    waitpid(harness, NULL, 0);
    CHECK(file_says(mark, "TERM", 5000));
    if (vmm_pid > 0)
        kill(vmm_pid, SIGKILL);
}

/* One session start through the launcher with a stand-in VMM (fake_vmm behind a script that
 * logs each argv line): 0 and the log, or -1. */
static int start_logged(bool snapshots, const char *rootfs_dir, unsigned mib, char *log_text, size_t log_len,
                        char *err, size_t err_len)
{
    char self[4096], fake[4200], vmm[128], log[128], script[5000];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(fake, sizeof fake, "%s/../host/bin/fake_vmm", dirname(self));
    snprintf(vmm, sizeof vmm, "%s/vmm-logged.sh", dir);
    snprintf(log, sizeof log, "%s/argv.log", dir);
    snprintf(script, sizeof script, "#!/bin/sh\necho \"$*\" >>%s\nexec %s \"$@\"\n", log, fake);
    write_file(vmm, script, 0755);
    unlink(log);
    struct vmm_launcher_config lc = { vmm, "/nonexistent/Image", NULL, rootfs_dir, dir, 1, 5000,
                                      NULL, false, NULL, NULL, NULL, NULL, snapshots, NULL, false };
    struct session_launcher l = vmm_launcher(&lc);
    struct session_spec spec = { "session-0123456789abcdef0123456789abc", "rt-0123456789", 1, "{}", mib };
    struct session_vm vm = { 0 };
    int rc = l.start(l.ctx, &spec, &vm, err, err_len);
    read_file(log, log_text, log_len);
    if (rc == 0) {
        char mark[300];
        snprintf(mark, sizeof mark, "%s.restored", vm.vsock_path);
        if (access(mark, F_OK) == 0)
            strncat(log_text, "[RESTORED received]\n", log_len - strlen(log_text) - 1);
        unlink(mark);
        l.stop(l.ctx, &vm);
    }
    return rc;
}

/* Sessions restore the version's template when it fits, agentd gets RESTORED first; no
 * template, another shape, or a refused restore: a cold boot. */
static void test_session_restores_template(void)
{
    char images[128], image[256], snap[256], path[300], log[4096], err[256];
    snprintf(images, sizeof images, "%s/images", dir);
    mkdir(images, 0700);
    snprintf(image, sizeof image, "%s/rt-0123456789-v1.ext4", images);
    write_file(image, "image v1\n", 0600);
    CHECK(vm_template_paths(image, snap, sizeof snap, NULL, 0));
    CHECK(strstr(snap, "rt-0123456789-v1.snap") != NULL);
    char why[256];
    CHECK(!vm_template_usable(snap, 128, 1, why, sizeof why) && strstr(why, "no template") != NULL);

    /* no template yet: cold */
    CHECK_EQ(start_logged(true, images, 128, log, sizeof log, err, sizeof err), 0);
    CHECK(strstr(log, "--kernel") != NULL && strstr(log, "--restore") == NULL);

    mkdir(snap, 0700);
    snprintf(path, sizeof path, "%s/state", snap);
    write_file(path, "SILOSNAP", 0600);
    CHECK(!vm_template_usable(snap, 128, 1, why, sizeof why) && strstr(why, "shape") != NULL);
    CHECK_EQ(vm_template_write_shape(snap, 128, 1), 0);
    CHECK(vm_template_usable(snap, 128, 1, why, sizeof why));
    CHECK(!vm_template_usable(snap, 256, 1, why, sizeof why) && strstr(why, "128 MiB and 1 vCPUs, the session 256") != NULL);

    /* the template: restored, RESTORED sent, nothing booted */
    CHECK_EQ(start_logged(true, images, 128, log, sizeof log, err, sizeof err), 0);
    CHECK(strstr(log, "--restore") != NULL && strstr(log, snap) != NULL && strstr(log, "--kernel") == NULL);
    CHECK(strstr(log, "[RESTORED received]") != NULL);
    /* snapshots off, or another shape: cold */
    CHECK_EQ(start_logged(false, images, 128, log, sizeof log, err, sizeof err), 0);
    CHECK(strstr(log, "--restore") == NULL && strstr(log, "--kernel") != NULL);
    CHECK_EQ(start_logged(true, images, 256, log, sizeof log, err, sizeof err), 0);
    CHECK(strstr(log, "--restore") == NULL && strstr(log, "--kernel") != NULL);
    /* a restore the VMM refuses: then a cold boot, and the session still starts */
    snprintf(path, sizeof path, "%s/fail", snap);
    write_file(path, "", 0600);
    CHECK_EQ(start_logged(true, images, 128, log, sizeof log, err, sizeof err), 0);
    char *restore = strstr(log, "--restore"), *boot = strstr(log, "--kernel");
    CHECK(restore != NULL && boot != NULL && restore < boot);
    CHECK(strstr(log, "[RESTORED received]") == NULL);
    unlink(path);
    /* a restored microVM that dies before it is ready: a cold boot too */
    snprintf(path, sizeof path, "%s/die", snap);
    write_file(path, "", 0600);
    CHECK_EQ(start_logged(true, images, 128, log, sizeof log, err, sizeof err), 0);
    restore = strstr(log, "--restore");
    boot = strstr(log, "--kernel");
    CHECK(restore != NULL && boot != NULL && restore < boot);
    unlink(path);
    vm_template_remove(snap);
    CHECK(access(snap, F_OK) != 0);
    unlink(image);
    rmdir(images);
}

/* A jailed session (vmm_jail.h): the launcher takes a uid slot, makes its root and run
 * directory, starts `silo-jail` (here a stand-in that logs its argv, maps the jail's paths back
 * to the host's and runs fake_vmm) with the VMM's socket in the run directory; stop removes the
 * slot's directories and gives the uid back. Needs root (the run directory is chowned). */
static void test_jailed_session(void)
{
    if (geteuid() != 0) {
        printf("#   (not root: the jailed launch is checked in the dev host only, tests/e2e/silod_jail.sh)\n");
        return;
    }
    char self[4096], fake[4200], jail[128], log[128], script[3000], jail_dir[128];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(fake, sizeof fake, "%s/../host/bin/fake_vmm", dirname(self));
    snprintf(jail, sizeof jail, "%s/fake-jail.sh", dir);
    snprintf(log, sizeof log, "%s/jail-argv.log", dir);
    snprintf(jail_dir, sizeof jail_dir, "%s/jail", dir);
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "echo \"$*\" >>%s\n"
             "echo \"env: TMPDIR=$TMPDIR HOME=${HOME:-unset}\" >>%s\n"
             "maps=\n"
             "while [ $# -gt 0 ] && [ \"$1\" != -- ]; do\n"
             "  case \"$1\" in --bind|--bind-ro) maps=\"$maps $2\"; shift;; esac\n"
             "  shift\n"
             "done\n"
             "shift\n"
             "n=$#\n"
             "for a in \"$@\"; do\n"
             "  for m in $maps; do src=${m%%%%=*}; dst=${m#*=}\n"
             "    case \"$a\" in \"$dst\") a=$src;; \"$dst\"/*|\"$dst\",*) a=$src${a#\"$dst\"};; esac\n"
             "  done\n"
             "  set -- \"$@\" \"$a\"\n"
             "done\n"
             "shift $n\n"
             "exec \"$@\"\n", log, log);
    write_file(jail, script, 0755);
    unlink(log);
    struct vmm_jail_config jc = { jail, jail_dir, 4242000, 2, 0, NULL, 64, 100, 4096, 64, 1024 };
    char err[256];
    struct vmm_jail *j = vmm_jail_new(&jc, err, sizeof err);
    CHECK(j != NULL);
    if (!j) {
        printf("#   %s\n", err);
        return;
    }
    struct vmm_launcher_config lc = { fake, "/nonexistent/Image", NULL, "/nonexistent", dir, 1, 5000,
                                      NULL, false, NULL, NULL, NULL, NULL, false, j, false };
    struct session_launcher l = vmm_launcher(&lc);
    struct session_spec spec = { "session-0123456789abcdef0123456789abc", "rt-0123456789", 1, "{}", 128 };
    struct session_vm vm = { 0 };
    char want_sock[256], text[4096] = "", root[256], run[256];
    snprintf(want_sock, sizeof want_sock, "%s/4242000.run/vm.sock", jail_dir);
    snprintf(root, sizeof root, "%s/4242000", jail_dir);
    snprintf(run, sizeof run, "%s/4242000.run", jail_dir);
    int rc = l.start(l.ctx, &spec, &vm, err, sizeof err);
    if (rc != 0)
        printf("#   jailed start: %s\n", err);
    CHECK(rc == 0);
    read_file(log, text, sizeof text);
    CHECK(vm.jail_uid == 4242000 && strcmp(vm.vsock_path, want_sock) == 0);
    CHECK(strstr(text, "--uid 4242000 --gid 4242000") != NULL && strstr(text, "--dev /dev/kvm") != NULL);
    CHECK(strstr(text, "-- /silo-vmm --kernel /kernel") != NULL && strstr(text, "--vsock-uds /run/vm.sock") != NULL);
    CHECK(strstr(text, "--disk /disk,cow") != NULL && strstr(text, "--nofile 1024") != NULL);
    CHECK(strstr(text, "env: TMPDIR=/run HOME=unset") != NULL);     /* none of silod's environment */
    struct stat st;
    CHECK(stat(run, &st) == 0 && st.st_uid == 4242000 && (st.st_mode & 0777) == 0700);
    CHECK(stat(want_sock, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK_EQ(vmm_jail_in_use(j), 1);
    /* a second session gets the next uid; the range of two is then exhausted */
    struct session_vm vm2 = { 0 }, vm3 = { 0 };
    CHECK(l.start(l.ctx, &spec, &vm2, err, sizeof err) == 0 && vm2.jail_uid == 4242001);
    CHECK(l.start(l.ctx, &spec, &vm3, err, sizeof err) == -1 && strstr(err, "no free jail uid") != NULL);
    if (rc == 0)
        l.stop(l.ctx, &vm);
    l.stop(l.ctx, &vm2);
    CHECK(vm.jail_uid == 0 && vm.pid == 0);
    CHECK(stat(run, &st) != 0 && stat(root, &st) != 0);
    CHECK_EQ(vmm_jail_in_use(j), 0);
    vmm_jail_free(j);
    rmdir(jail_dir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/silo-test-microvm-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    signal(SIGPIPE, SIG_IGN);
    static const struct unit_test tests[] = {
        { "the VMM's command line is built once: every option, the defaults, nothing cut", test_argv },
        { "agentd's STATUS/WAIT answers are decoded by control_proto's codec, hostile lines refused", test_agent_state_codec },
        { "readiness protocols from a version's configuration", test_protocols },
        { "vsock client and readiness against a stand-in agentd: STATUS, A2A (agent card), timeout, WAIT, cancel", test_control_and_readiness },
        { "a boot-check VMM: own process group, no leaked descriptor, outlives its spawning thread, SIGTERM when its parent is SIGKILLed", test_boot_check_vmm_gets_sigterm },
        { "a session's VMM (silod's launcher): own process group, SIGTERM when silod is SIGKILLed", test_session_vmm_gets_sigterm },
        { "a jailed session: silo-jail's argv, the socket in the slot's run directory, uids exhausted, all removed at stop",
          test_jailed_session },
        { "sessions restore the version's template (RESTORED first); no template, other shape, refusal, a restored VM that dies: cold boot", test_session_restores_template },
    };
    int rc = run_unit_tests(tests, sizeof tests / sizeof tests[0]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}

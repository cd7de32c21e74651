/* tests/unit/test_python_bytecode.c — builder/python_bytecode.c on small image roots: a root
 * whose python3.11 declares this host's python3.11 magic number gets unchecked-hash .pyc files
 * for its stdlib, dist-packages and the agent's directory, with guest paths in them; a root whose
 * magic number no host python has gets none (and a verdict on stderr); a root without Python is
 * left alone. The first case needs a python3.11 on this host (Debian bookworm's; tools/deps.sh
 * environments have it); without one it checks that nothing is compiled instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/python_bytecode.h"
#include "tests/unit/check.h"

static char dir[64];

static void write_file(const char *rel, const char *text)
{
    char path[256], cmd[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    CHECK(system(cmd) == 0);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The first 16 bytes of ROOT-relative rel into head; false when absent. */
static bool read_head(const char *rel, unsigned char head[16])
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    bool ok = fread(head, 1, 16, f) == 16;
    fclose(f);
    return ok;
}

static void make_root(const char *name, unsigned magic)
{
    char text[256];
    snprintf(dir, sizeof dir, "/tmp/silo-test-pyc-%s-XXXXXX", name);
    CHECK(mkdtemp(dir) != NULL);
    write_file("usr/lib/python3.11/os.py", "import sys\nsep = '/'\n");
    snprintf(text, sizeof text, "import _imp\nMAGIC_NUMBER = (%u).to_bytes(2, 'little') + b'\\r\\n'\n", magic);
    write_file("usr/lib/python3.11/importlib/_bootstrap_external.py", text);
    write_file("usr/lib/python3/dist-packages/pkg/__init__.py", "VALUE = 1\n");
    write_file("app/helper.py", "def boom():\n    raise RuntimeError('x')\n");
    write_file("app/agent.py", "import helper\n");
}

static void remove_root(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static bool host_has_python311(void) { return access("/usr/bin/python3.11", X_OK) == 0; }

static void test_matching_magic_compiles(void)
{
    make_root("match", 3495);                /* CPython 3.11's magic number */
    const char *extra[] = { "/app" };
    unsigned n = python_bytecode_compile(dir, extra, 1);
    unsigned char head[16];
    if (!host_has_python311()) {
        CHECK_EQ(n, 0);
        CHECK(!read_head("usr/lib/python3.11/__pycache__/os.cpython-311.pyc", head));
        remove_root();
        return;
    }
    CHECK_EQ(n, 1);
    const char *pycs[] = { "usr/lib/python3.11/__pycache__/os.cpython-311.pyc",
                           "usr/lib/python3/dist-packages/pkg/__pycache__/__init__.cpython-311.pyc",
                           "app/__pycache__/helper.cpython-311.pyc" };
    for (size_t i = 0; i < 3; i++) {
        bool there = read_head(pycs[i], head);
        CHECK(there);
        if (there) {
            CHECK(memcmp(head, "\xa7\x0d\x0d\x0a", 4) == 0);        /* 3495, little-endian, \r\n */
            CHECK_EQ(head[4], 1);                                  /* hash-based, unchecked */
        }
    }
    /* the code object names the guest path, not the build host's */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "grep -q '/app/helper.py' %s/app/__pycache__/helper.cpython-311.pyc && "
             "! grep -q '%s' %s/app/__pycache__/helper.cpython-311.pyc", dir, dir, dir);
    CHECK(system(cmd) == 0);
    remove_root();
}

static void test_other_magic_is_skipped(void)
{
    make_root("other", 3400);                /* no host python3.11 has it */
    const char *extra[] = { "/app" };
    CHECK_EQ(python_bytecode_compile(dir, extra, 1), 0);
    unsigned char head[16];
    CHECK(!read_head("usr/lib/python3.11/__pycache__/os.cpython-311.pyc", head));
    CHECK(!read_head("app/__pycache__/helper.cpython-311.pyc", head));
    remove_root();
}

static void test_no_python_no_work(void)
{
    snprintf(dir, sizeof dir, "/tmp/silo-test-pyc-none-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    write_file("app/agent.py", "print(1)\n");              /* a .py without any interpreter */
    const char *extra[] = { "/app" };
    CHECK_EQ(python_bytecode_compile(dir, extra, 1), 0);
    unsigned char head[16];
    CHECK(!read_head("app/__pycache__/agent.cpython-311.pyc", head));
    remove_root();
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "python3.11 with this host's magic number: unchecked-hash .pyc for stdlib, dist-packages and the agent, guest paths", test_matching_magic_compiles },
        { "a magic number no host python has: nothing compiled", test_other_magic_is_skipped },
        { "a root without Python: nothing compiled", test_no_python_no_work },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}

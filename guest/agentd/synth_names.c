/* guest/agentd/synth_names.c — name ↔ synthetic address table (see synth_names.h): names in
 * allocation order, an open-addressing hash index over them, one mutex. */
#include "guest/agentd/synth_names.h"
#include "guest/agentd/guest_ports.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_SLOTS (SYNTH_NAMES_MAX * 2)   /* power of two, half full at most */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *names[SYNTH_NAMES_MAX];        /* names[i] has address NET + i + 1 */
static uint32_t count;
static uint32_t index_slots[INDEX_SLOTS];   /* 0 empty, else i + 1 */

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;                /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static uint32_t *find_slot(const char *name)
{
    uint32_t mask = INDEX_SLOTS - 1, slot = hash_name(name) & mask;
    while (index_slots[slot] != 0 && strcmp(names[index_slots[slot] - 1], name) != 0)
        slot = (slot + 1) & mask;
    return &index_slots[slot];
}

uint32_t synth_names_address(const char *name)
{
    uint32_t address = 0;
    pthread_mutex_lock(&lock);
    uint32_t *slot = find_slot(name);
    if (*slot != 0) {
        address = GUEST_SYNTH_NET + *slot;
    } else if (count < SYNTH_NAMES_MAX && (names[count] = strdup(name)) != NULL) {
        *slot = ++count;
        address = GUEST_SYNTH_NET + count;
    }
    pthread_mutex_unlock(&lock);
    return address;
}

bool synth_names_lookup(uint32_t address, char *name, size_t cap)
{
    if ((address & GUEST_SYNTH_MASK) != GUEST_SYNTH_NET)
        return false;
    uint32_t i = address - GUEST_SYNTH_NET;
    bool found = false;
    pthread_mutex_lock(&lock);
    if (i >= 1 && i <= count && strlen(names[i - 1]) < cap) {
        strcpy(name, names[i - 1]);
        found = true;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void synth_names_reset(void)
{
    pthread_mutex_lock(&lock);
    for (uint32_t i = 0; i < count; i++) {
        free(names[i]);
        names[i] = NULL;
    }
    count = 0;
    memset(index_slots, 0, sizeof index_slots);
    pthread_mutex_unlock(&lock);
}

/* guest/agentd/guest_env.c — adds agentd's egress, credentials and API variables to the
 * agent's environment (see guest_env.h). */
#include "guest/agentd/guest_env.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROXY_URL "http://127.0.0.1:3128"
#define NO_PROXY_LIST "localhost,127.0.0.1,::1"

static size_t env_count(char **envp)
{
    size_t n = 0;
    while (envp[n] != NULL)
        n++;
    return n;
}

static bool env_has(char **envp, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; envp[i] != NULL; i++)
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
            return true;
    return false;
}

/* Appends NAME=value unless NAME is set; the array has room (see guest_env_add). */
static int add_one(char **envp, const char *name, const char *value)
{
    if (env_has(envp, name))
        return 0;
    size_t n = env_count(envp), len = strlen(name) + strlen(value) + 2;
    char *entry = malloc(len);
    if (entry == NULL)
        return -1;
    snprintf(entry, len, "%s=%s", name, value);
    envp[n] = entry;
    envp[n + 1] = NULL;
    return 0;
}

int guest_env_add(char ***envp, const char *credentials_token, const char *region)
{
    const char *vars[][2] = {
        { "HTTP_PROXY", PROXY_URL },    { "HTTPS_PROXY", PROXY_URL },
        { "http_proxy", PROXY_URL },    { "https_proxy", PROXY_URL },
        { "NO_PROXY", NO_PROXY_LIST },  { "no_proxy", NO_PROXY_LIST },
        { "NODE_USE_ENV_PROXY", "1" },
        { "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1338/credentials" },
        { "AWS_CONTAINER_AUTHORIZATION_TOKEN", credentials_token },
        { "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", "http://127.0.0.1:1339" },
        { "AWS_REGION", region },       { "AWS_DEFAULT_REGION", region },
    };
    size_t count = sizeof vars / sizeof vars[0];
    char **grown = realloc(*envp, (env_count(*envp) + count + 1) * sizeof(char *));
    if (grown == NULL)
        return -1;
    *envp = grown;
    for (size_t i = 0; i < count; i++)
        if (vars[i][1] != NULL && vars[i][1][0] != '\0' && add_one(grown, vars[i][0], vars[i][1]) < 0)
            return -1;
    return 0;
}

/* guest/agentd/guest_env.h — the variables agentd adds to the agent's environment so ordinary
 * clients reach the world through agentd's loopback listeners: the proxy (HTTP_PROXY, …,
 * NODE_USE_ENV_PROXY), container credentials (AWS_CONTAINER_*), silod's API
 * (AWS_ENDPOINT_URL_BEDROCK_AGENTCORE) and the region. A variable the image's Env already sets
 * is left alone. */
#ifndef SILO_GUEST_AGENTD_GUEST_ENV_H
#define SILO_GUEST_AGENTD_GUEST_ENV_H

/* Appends the missing variables to *envp (a malloc'd, NULL-terminated array of malloc'd
 * strings, as agent_config builds it; it is reallocated). region may be NULL or "". Returns 0,
 * or -1 when out of memory (*envp stays valid). */
int guest_env_add(char ***envp, const char *credentials_token, const char *region);

#endif

/* guest/agentd/host_name.c — host name validation shared by the proxy and the DNS stub (see
 * host_name.h). */
#include "guest/agentd/host_name.h"

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool host_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > HOST_NAME_MAX_LEN)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (!is_name_char(name[i]) || ++label > HOST_LABEL_MAX_LEN) {
            return false;
        }
    }
    return label > 0;
}

void host_name_lower(char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (name[i] >= 'A' && name[i] <= 'Z')
            name[i] = (char)(name[i] - 'A' + 'a');
}

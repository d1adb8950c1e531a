/*
 * lunatic::networking DNS calls (docs/lunatic-abi.md §11): resolve on the
 * networking layer's resolver threads, and the iterators through which the
 * host hands out every address (resolved, local or peer).
 */
#include <stdlib.h>
#include <string.h>

#include "networking.h"

lun_host_result net_resolve(lun_host_call *call)
{
    API_PROCESS(call, process);
    lun_net *net = net_context(call, process);
    if (net == NULL) return LUN_HOST_TRAP;
    api_net_state *state = process->net;
    uint32_t length = api_arg_u32(call, 1);
    const uint8_t *name = api_guest_bytes(call, api_arg_u32(call, 0), length);
    if (name == NULL) return LUN_HOST_TRAP;
    if (!api_utf8_valid(name, length)) return api_trap(call, "resolve: name is not valid UTF-8");
    uint32_t id_pointer = api_arg_u32(call, 3);
    if (api_guest_bytes(call, id_pointer, 8) == NULL) return LUN_HOST_TRAP;
    lun_dns_result *result = NULL;
    lun_error error = {0};
    lun_status status = lun_dns_resolve(process->self, net, (const char *)name, length,
                                        net_timeout_from_guest(api_arg_i64(call, 2)),
                                        &state->pending_dns, &result, &error);
    if (status == LUN_ERR_TIMEOUT) {
        api_guest_write_u64(call, id_pointer, 0); /* as lunatic does */
        return api_return_i32(call, API_TIMEOUT_CODE);
    }
    if (status != LUN_OK) return net_fail(call, process, status, &error, id_pointer);
    net_iterator *iterator =
        malloc(sizeof *iterator + result->count * sizeof iterator->addresses[0]);
    if (iterator == NULL) {
        lun_dns_result_free(result);
        return api_trap(call, "out of memory");
    }
    iterator->count = result->count;
    iterator->next = 0;
    memcpy(iterator->addresses, result->addresses, result->count * sizeof result->addresses[0]);
    lun_dns_result_free(result);
    if (!net_add(call, &state->iterators, iterator, id_pointer)) return LUN_HOST_TRAP;
    return api_return_i32(call, NET_OK);
}

static void put_u32(uint8_t *bytes, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
}

lun_host_result net_resolve_next(lun_host_call *call)
{
    API_PROCESS(call, process);
    net_iterator *iterator = net_resource(call, process, NET_TABLE(iterators), "DNS iterator");
    if (iterator == NULL) return LUN_HOST_TRAP;
    if (iterator->next >= iterator->count) return api_return_i32(call, 1);
    const lun_net_address *address = &iterator->addresses[iterator->next];
    bool v6 = address->family == 6;
    uint8_t *type = api_guest_bytes(call, api_arg_u32(call, 1), 4);
    uint8_t *bytes = type ? api_guest_bytes(call, api_arg_u32(call, 2), v6 ? 16 : 4) : NULL;
    uint8_t *port = bytes ? api_guest_bytes(call, api_arg_u32(call, 3), 2) : NULL;
    uint8_t *flow = port && v6 ? api_guest_bytes(call, api_arg_u32(call, 4), 4) : NULL;
    uint8_t *scope = flow ? api_guest_bytes(call, api_arg_u32(call, 5), 4) : NULL;
    if (port == NULL || (v6 && scope == NULL)) return LUN_HOST_TRAP;
    put_u32(type, v6 ? 6 : 4);
    memcpy(bytes, address->bytes, v6 ? 16 : 4);
    port[0] = (uint8_t)address->port;
    port[1] = (uint8_t)(address->port >> 8);
    if (v6) {
        put_u32(flow, address->flow_info);
        put_u32(scope, address->scope_id);
    }
    iterator->next++;
    return api_return_i32(call, NET_OK);
}

lun_host_result net_drop_dns_iterator(lun_host_call *call)
{
    API_PROCESS(call, process);
    api_net_state *state = net_state(call, process);
    if (state == NULL) return LUN_HOST_TRAP;
    api_value value;
    if (!api_table_take(&state->iterators, api_arg_u64(call, 0), &value))
        return api_trap(call, "drop_dns_iterator: unknown id %lld",
                        (long long)api_arg_i64(call, 0));
    free(value.pointer);
    return LUN_HOST_RETURN;
}

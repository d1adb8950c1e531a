/*
 * lunatic::networking placeholder: every import of docs/lunatic-abi.md §11
 * exists with its exact signature, so that modules using the network load,
 * and every call traps "not supported yet" until the networking layer
 * (src/net) provides sockets.
 */
#include "api_internal.h"

static lun_host_result unsupported(lun_host_call *call)
{
    return api_trap(call, "lunatic::networking is not supported yet");
}

#define ADDR "i32 i32 i32 i32 i32"

const api_function_def api_networking_functions[] = {
    {"resolve", "i32 i32 i64 i32", "i32", unsupported},
    {"resolve_next", "i64 i32 i32 i32 i32 i32", "i32", unsupported},
    {"drop_dns_iterator", "i64", "", unsupported},
    {"tcp_bind", ADDR " i32", "i32", unsupported},
    {"tcp_local_addr", "i64 i32", "i32", unsupported},
    {"tcp_accept", "i64 i32 i32", "i32", unsupported},
    {"tcp_connect", ADDR " i64 i32", "i32", unsupported},
    {"tcp_peer_addr", "i64 i32", "i32", unsupported},
    {"tcp_read", "i64 i32 i32 i32", "i32", unsupported},
    {"tcp_peek", "i64 i32 i32 i32", "i32", unsupported},
    {"tcp_write_vectored", "i64 i32 i32 i32", "i32", unsupported},
    {"tcp_flush", "i64 i32", "i32", unsupported},
    {"set_read_timeout", "i64 i64", "", unsupported},
    {"set_write_timeout", "i64 i64", "", unsupported},
    {"set_peek_timeout", "i64 i64", "", unsupported},
    {"get_read_timeout", "i64", "i64", unsupported},
    {"get_write_timeout", "i64", "i64", unsupported},
    {"get_peek_timeout", "i64", "i64", unsupported},
    {"clone_tcp_stream", "i64", "i64", unsupported},
    {"drop_tcp_stream", "i64", "", unsupported},
    {"drop_tcp_listener", "i64", "", unsupported},
    {"tls_bind", ADDR " i32 i32 i32 i32 i32", "i32", unsupported},
    {"tls_local_addr", "i64 i32", "i32", unsupported},
    {"tls_accept", "i64 i32 i32", "i32", unsupported},
    {"tls_connect", "i32 i32 i32 i64 i32 i32 i32", "i32", unsupported},
    {"tls_read", "i64 i32 i32 i32", "i32", unsupported},
    {"tls_write_vectored", "i64 i32 i32 i32", "i32", unsupported},
    {"tls_flush", "i64 i32", "i32", unsupported},
    {"set_tls_read_timeout", "i64 i64", "", unsupported},
    {"set_tls_write_timeout", "i64 i64", "", unsupported},
    {"get_tls_read_timeout", "i64", "i64", unsupported},
    {"get_tls_write_timeout", "i64", "i64", unsupported},
    {"clone_tls_stream", "i64", "i64", unsupported},
    {"drop_tls_stream", "i64", "", unsupported},
    {"drop_tls_listener", "i64", "", unsupported},
    {"udp_bind", ADDR " i32", "i32", unsupported},
    {"udp_connect", "i64 " ADDR " i64 i32", "i32", unsupported},
    {"udp_send", "i64 i32 i32 i32", "i32", unsupported},
    {"udp_send_to", "i64 i32 i32 " ADDR " i32", "i32", unsupported},
    {"udp_receive", "i64 i32 i32 i32", "i32", unsupported},
    {"udp_receive_from", "i64 i32 i32 i32 i32", "i32", unsupported},
    {"udp_local_addr", "i64 i32", "i32", unsupported},
    {"udp_peer_addr", "i64 i32", "i32", unsupported},
    {"set_udp_socket_broadcast", "i64 i32", "", unsupported},
    {"get_udp_socket_broadcast", "i64", "i32", unsupported},
    {"set_udp_socket_ttl", "i64 i32", "", unsupported},
    {"get_udp_socket_ttl", "i64", "i32", unsupported},
    {"clone_udp_socket", "i64", "i64", unsupported},
    {"drop_udp_socket", "i64", "", unsupported},
    {NULL, NULL, NULL, NULL},
};

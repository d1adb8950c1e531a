/*
 * lunatic::sqlite placeholder: every import of docs/lunatic-abi.md §12
 * exists with its exact signature, so that modules using SQLite load, and
 * every call traps "not supported yet".
 */
#include "api_internal.h"

static lun_host_result unsupported(lun_host_call *call)
{
    return api_trap(call, "lunatic::sqlite is not supported yet");
}

const api_function_def api_sqlite_functions[] = {
    {"open", "i32 i32 i32", "i64", unsupported},
    {"execute", "i64 i32 i32", "i32", unsupported},
    {"query_prepare", "i64 i32 i32", "i64", unsupported},
    {"bind_value", "i64 i32 i32", "", unsupported},
    {"sqlite3_step", "i64", "i32", unsupported},
    {"statement_reset", "i64", "", unsupported},
    {"sqlite3_finalize", "i64", "", unsupported},
    {"sqlite3_changes", "i64", "i32", unsupported},
    {"column_count", "i64", "i32", unsupported},
    {"read_column", "i64 i32 i32", "i32", unsupported},
    {"read_row", "i64 i32", "i32", unsupported},
    {"column_names", "i64 i32", "i32", unsupported},
    {"column_name", "i64 i32 i32", "i32", unsupported},
    {"last_error", "i64 i32", "i32", unsupported},
    {NULL, NULL, NULL, NULL},
};

/*
 * Script values of the spec-test runner: parsing, NaN patterns, matching
 * and printing (see value.h).
 */
#include "value.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define F32_SIGN     0x80000000u
#define F32_EXPONENT 0x7F800000u
#define F32_QUIET    0x00400000u
#define F64_SIGN     0x8000000000000000ull
#define F64_EXPONENT 0x7FF0000000000000ull
#define F64_QUIET    0x0008000000000000ull

static const struct {
    const char *name;
    lun_valtype type;
} type_names[] = {
    {"i32", LUN_I32},   {"i64", LUN_I64},         {"f32", LUN_F32},
    {"f64", LUN_F64},   {"funcref", LUN_FUNCREF}, {"externref", LUN_EXTERNREF},
    {"v128", LUN_V128},
};

lun_status spectest_valtype_parse(const char *name, lun_valtype *type, lun_error *error)
{
    if (name == NULL) return lun_error_set(error, LUN_ERR_MALFORMED, "value without a type");
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        if (strcmp(name, type_names[i].name) == 0) {
            *type = type_names[i].type;
            if (*type == LUN_V128)
                return lun_error_set(error, LUN_ERR_UNSUPPORTED, "v128 values not supported");
            return LUN_OK;
        }
    }
    return lun_error_set(error, LUN_ERR_MALFORMED, "unknown value type \"%s\"", name);
}

const char *spectest_valtype_name(lun_valtype type)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        if (type_names[i].type == type) return type_names[i].name;
    }
    return "?";
}

lun_status spectest_parse_unsigned(const char *text, uint64_t max, uint64_t *value,
                                   lun_error *error)
{
    if (text == NULL || text[0] == '\0')
        return lun_error_set(error, LUN_ERR_MALFORMED, "empty number");
    if (text[0] == '0' && text[1] != '\0')
        return lun_error_set(error, LUN_ERR_MALFORMED, "leading zero in \"%s\"", text);
    uint64_t result = 0;
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9')
            return lun_error_set(error, LUN_ERR_MALFORMED, "not a decimal number: \"%s\"", text);
        uint64_t digit = (uint64_t)(*c - '0');
        if (result > (max - digit) / 10)
            return lun_error_set(error, LUN_ERR_MALFORMED, "number out of range: \"%s\"", text);
        result = result * 10 + digit;
    }
    *value = result;
    return LUN_OK;
}

void *spectest_extern_reference(uint64_t n)
{
    return (void *)(uintptr_t)(n + 1);
}

static lun_status parse_reference(const char *text, bool is_expected, spectest_value *value,
                                  lun_error *error)
{
    if (text == NULL) {
        /* "(ref.func)" or "(ref.extern)" without an index: any non-null. */
        if (!is_expected)
            return lun_error_set(error, LUN_ERR_MALFORMED, "reference argument without value");
        value->kind = SPECTEST_VALUE_ANY_REFERENCE;
        return LUN_OK;
    }
    if (strcmp(text, "null") == 0) {
        value->value.ref = NULL;
        return LUN_OK;
    }
    uint64_t n;
    lun_status status = spectest_parse_unsigned(text, UINT64_MAX - 1, &n, error);
    if (status != LUN_OK) return status;
    if (value->value.type == LUN_FUNCREF) {
        /* A function index names no lun_func we could compare with. */
        if (!is_expected)
            return lun_error_set(error, LUN_ERR_UNSUPPORTED, "non-null funcref argument");
        value->kind = SPECTEST_VALUE_ANY_REFERENCE;
        return LUN_OK;
    }
    value->value.ref = spectest_extern_reference(n);
    return LUN_OK;
}

static lun_status parse_number(const char *text, bool is_expected, spectest_value *value,
                               lun_error *error)
{
    lun_valtype type = value->value.type;
    if (text == NULL)
        return lun_error_set(error, LUN_ERR_MALFORMED, "%s value without \"value\"",
                             spectest_valtype_name(type));
    if (type == LUN_F32 || type == LUN_F64) {
        spectest_value_kind nan = SPECTEST_VALUE_EXACT;
        if (strcmp(text, "nan:canonical") == 0)
            nan = SPECTEST_VALUE_NAN_CANONICAL;
        else if (strcmp(text, "nan:arithmetic") == 0)
            nan = SPECTEST_VALUE_NAN_ARITHMETIC;
        if (nan != SPECTEST_VALUE_EXACT) {
            if (!is_expected)
                return lun_error_set(error, LUN_ERR_MALFORMED, "NaN pattern as an argument");
            value->kind = nan;
            return LUN_OK;
        }
    }
    bool narrow = type == LUN_I32 || type == LUN_F32;
    uint64_t bits;
    lun_status status =
        spectest_parse_unsigned(text, narrow ? UINT32_MAX : UINT64_MAX, &bits, error);
    if (status != LUN_OK) return status;
    switch (type) {
    case LUN_I32: value->value.i32 = (int32_t)(uint32_t)bits; break;
    case LUN_I64: value->value.i64 = (int64_t)bits; break;
    case LUN_F32: value->value.f32_bits = (uint32_t)bits; break;
    default: value->value.f64_bits = bits; break;
    }
    return LUN_OK;
}

lun_status spectest_value_parse(const spectest_json *json, bool is_expected, spectest_value *value,
                                lun_error *error)
{
    memset(value, 0, sizeof *value);
    if (json == NULL || json->kind != SPECTEST_JSON_OBJECT)
        return lun_error_set(error, LUN_ERR_MALFORMED, "value is not an object");
    lun_valtype type;
    lun_status status =
        spectest_valtype_parse(spectest_json_get_string(json, "type"), &type, error);
    if (status != LUN_OK) return status;
    const spectest_json *member = spectest_json_get(json, "value");
    if (member != NULL && member->kind != SPECTEST_JSON_STRING)
        return lun_error_set(error, LUN_ERR_MALFORMED, "\"value\" is not a string");
    const char *text = member != NULL ? member->string.data : NULL;
    value->kind = SPECTEST_VALUE_EXACT;
    value->value.type = type;
    if (type == LUN_FUNCREF || type == LUN_EXTERNREF)
        return parse_reference(text, is_expected, value, error);
    return parse_number(text, is_expected, value, error);
}

static bool f32_matches(spectest_value_kind kind, uint32_t expected, uint32_t actual)
{
    uint32_t magnitude = actual & ~F32_SIGN;
    switch (kind) {
    case SPECTEST_VALUE_NAN_CANONICAL: return magnitude == (F32_EXPONENT | F32_QUIET);
    case SPECTEST_VALUE_NAN_ARITHMETIC:
        return (magnitude & (F32_EXPONENT | F32_QUIET)) == (F32_EXPONENT | F32_QUIET);
    default: return expected == actual;
    }
}

static bool f64_matches(spectest_value_kind kind, uint64_t expected, uint64_t actual)
{
    uint64_t magnitude = actual & ~F64_SIGN;
    switch (kind) {
    case SPECTEST_VALUE_NAN_CANONICAL: return magnitude == (F64_EXPONENT | F64_QUIET);
    case SPECTEST_VALUE_NAN_ARITHMETIC:
        return (magnitude & (F64_EXPONENT | F64_QUIET)) == (F64_EXPONENT | F64_QUIET);
    default: return expected == actual;
    }
}

bool spectest_value_matches(const spectest_value *expected, lun_value actual)
{
    if (expected->value.type != actual.type) return false;
    switch (actual.type) {
    case LUN_I32: return expected->value.i32 == actual.i32;
    case LUN_I64: return expected->value.i64 == actual.i64;
    case LUN_F32: return f32_matches(expected->kind, expected->value.f32_bits, actual.f32_bits);
    case LUN_F64: return f64_matches(expected->kind, expected->value.f64_bits, actual.f64_bits);
    case LUN_FUNCREF:
    case LUN_EXTERNREF:
        if (expected->kind == SPECTEST_VALUE_ANY_REFERENCE) return actual.ref != NULL;
        return expected->value.ref == actual.ref;
    default: return false;
    }
}

static void format_reference(const char *prefix, void *ref, char *buffer, size_t size)
{
    if (ref == NULL)
        snprintf(buffer, size, "%s:null", prefix);
    else if (strcmp(prefix, "externref") == 0)
        snprintf(buffer, size, "%s:%" PRIuPTR, prefix, (uintptr_t)ref - 1);
    else
        snprintf(buffer, size, "%s:%p", prefix, ref);
}

void spectest_value_format(lun_value value, char *buffer, size_t size)
{
    const char *name = spectest_valtype_name(value.type);
    switch (value.type) {
    case LUN_I32: snprintf(buffer, size, "i32:%" PRIu32, (uint32_t)value.i32); break;
    case LUN_I64: snprintf(buffer, size, "i64:%" PRIu64, (uint64_t)value.i64); break;
    case LUN_F32: snprintf(buffer, size, "f32:0x%08" PRIx32, value.f32_bits); break;
    case LUN_F64: snprintf(buffer, size, "f64:0x%016" PRIx64, value.f64_bits); break;
    case LUN_FUNCREF:
    case LUN_EXTERNREF: format_reference(name, value.ref, buffer, size); break;
    default: snprintf(buffer, size, "type 0x%x", (unsigned)value.type); break;
    }
}

void spectest_expected_format(const spectest_value *expected, char *buffer, size_t size)
{
    const char *name = spectest_valtype_name(expected->value.type);
    switch (expected->kind) {
    case SPECTEST_VALUE_NAN_CANONICAL: snprintf(buffer, size, "%s:nan:canonical", name); break;
    case SPECTEST_VALUE_NAN_ARITHMETIC: snprintf(buffer, size, "%s:nan:arithmetic", name); break;
    case SPECTEST_VALUE_ANY_REFERENCE: snprintf(buffer, size, "%s:non-null", name); break;
    default: spectest_value_format(expected->value, buffer, size); break;
    }
}

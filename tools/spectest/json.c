/*
 * The JSON reader of the spec-test runner: a recursive-descent parser with a
 * depth limit, building a tree of heap nodes (see json.h).
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *text;
    size_t length;
    size_t position;
    unsigned depth;
    lun_error *error;
} parser;

/* A growable byte buffer for decoding one string. */
typedef struct byte_buffer {
    char *data;
    size_t length;
    size_t capacity;
} byte_buffer;

static lun_status parse_value(parser *p, spectest_json *value);
static void free_value(spectest_json *value);

static lun_status fail(parser *p, const char *what)
{
    size_t line = 1, column = 1;
    for (size_t i = 0; i < p->position && i < p->length; i++) {
        if (p->text[i] == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    return lun_error_set(p->error, LUN_ERR_MALFORMED, "JSON line %zu column %zu: %s", line, column,
                         what);
}

static lun_status out_of_memory(parser *p)
{
    return lun_error_set(p->error, LUN_ERR_NO_MEMORY, "JSON: out of memory");
}

static void skip_whitespace(parser *p)
{
    while (p->position < p->length) {
        char c = p->text[p->position];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->position++;
    }
}

static bool at_end(const parser *p)
{
    return p->position >= p->length;
}

static char peek(const parser *p)
{
    return at_end(p) ? '\0' : p->text[p->position];
}

static bool buffer_reserve(byte_buffer *buffer, size_t extra)
{
    if (buffer->length + extra + 1 <= buffer->capacity) return true;
    size_t capacity = buffer->capacity ? buffer->capacity : 16;
    while (capacity < buffer->length + extra + 1)
        capacity *= 2;
    char *data = realloc(buffer->data, capacity);
    if (data == NULL) return false;
    buffer->data = data;
    buffer->capacity = capacity;
    return true;
}

static bool buffer_append_code_point(byte_buffer *buffer, uint32_t code_point)
{
    if (!buffer_reserve(buffer, 4)) return false;
    char *out = buffer->data + buffer->length;
    if (code_point < 0x80) {
        out[0] = (char)code_point;
        buffer->length += 1;
    } else if (code_point < 0x800) {
        out[0] = (char)(0xC0 | (code_point >> 6));
        out[1] = (char)(0x80 | (code_point & 0x3F));
        buffer->length += 2;
    } else if (code_point < 0x10000) {
        out[0] = (char)(0xE0 | (code_point >> 12));
        out[1] = (char)(0x80 | ((code_point >> 6) & 0x3F));
        out[2] = (char)(0x80 | (code_point & 0x3F));
        buffer->length += 3;
    } else {
        out[0] = (char)(0xF0 | (code_point >> 18));
        out[1] = (char)(0x80 | ((code_point >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((code_point >> 6) & 0x3F));
        out[3] = (char)(0x80 | (code_point & 0x3F));
        buffer->length += 4;
    }
    return true;
}

static bool parse_hex4(parser *p, uint32_t *value)
{
    if (p->length - p->position < 4) return false;
    uint32_t result = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->text[p->position + i];
        uint32_t digit;
        if (c >= '0' && c <= '9')
            digit = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            digit = (uint32_t)(c - 'A' + 10);
        else
            return false;
        result = result * 16 + digit;
    }
    p->position += 4;
    *value = result;
    return true;
}

/* After "\u": one code point, joining a UTF-16 surrogate pair. */
static lun_status parse_unicode_escape(parser *p, uint32_t *code_point)
{
    uint32_t unit;
    if (!parse_hex4(p, &unit)) return fail(p, "bad \\u escape");
    if (unit >= 0xDC00 && unit <= 0xDFFF) return fail(p, "lone low surrogate in \\u escape");
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        uint32_t low;
        if (p->length - p->position < 2 || p->text[p->position] != '\\' ||
            p->text[p->position + 1] != 'u')
            return fail(p, "high surrogate without its low half");
        p->position += 2;
        if (!parse_hex4(p, &low) || low < 0xDC00 || low > 0xDFFF)
            return fail(p, "high surrogate without its low half");
        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    *code_point = unit;
    return LUN_OK;
}

static lun_status parse_escape(parser *p, byte_buffer *buffer)
{
    if (at_end(p)) return fail(p, "unterminated string");
    char c = p->text[p->position++];
    uint32_t code_point = 0;
    switch (c) {
    case '"': code_point = '"'; break;
    case '\\': code_point = '\\'; break;
    case '/': code_point = '/'; break;
    case 'b': code_point = '\b'; break;
    case 'f': code_point = '\f'; break;
    case 'n': code_point = '\n'; break;
    case 'r': code_point = '\r'; break;
    case 't': code_point = '\t'; break;
    case 'u': {
        lun_status status = parse_unicode_escape(p, &code_point);
        if (status != LUN_OK) return status;
        break;
    }
    default: p->position--; return fail(p, "unknown escape in string");
    }
    return buffer_append_code_point(buffer, code_point) ? LUN_OK : out_of_memory(p);
}

/* Length of the well-formed UTF-8 sequence at s (at most available bytes),
 * or 0 when it is not well formed (overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_sequence_length(const unsigned char *s, size_t available)
{
    unsigned char c = s[0];
    size_t length;
    uint32_t code_point, minimum;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        length = 2;
        code_point = c & 0x1F;
        minimum = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        length = 3;
        code_point = c & 0x0F;
        minimum = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        length = 4;
        code_point = c & 0x07;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (available < length) return 0;
    for (size_t i = 1; i < length; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        code_point = (code_point << 6) | (s[i] & 0x3F);
    }
    if (code_point < minimum || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF))
        return 0;
    return length;
}

static lun_status parse_string(parser *p, char **data, size_t *length)
{
    byte_buffer buffer = {0};
    lun_status status = LUN_OK;
    p->position++; /* the opening quote */
    for (;;) {
        if (at_end(p)) {
            status = fail(p, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)p->text[p->position];
        if (c == '"') {
            p->position++;
            break;
        }
        if (c < 0x20) {
            status = fail(p, "control character in string");
            break;
        }
        if (c == '\\') {
            p->position++;
            status = parse_escape(p, &buffer);
            if (status != LUN_OK) break;
            continue;
        }
        size_t sequence = utf8_sequence_length((const unsigned char *)p->text + p->position,
                                               p->length - p->position);
        if (sequence == 0) {
            status = fail(p, "invalid UTF-8 in string");
            break;
        }
        if (!buffer_reserve(&buffer, sequence)) {
            status = out_of_memory(p);
            break;
        }
        memcpy(buffer.data + buffer.length, p->text + p->position, sequence);
        buffer.length += sequence;
        p->position += sequence;
    }
    if (status == LUN_OK && !buffer_reserve(&buffer, 0)) status = out_of_memory(p);
    if (status != LUN_OK) {
        free(buffer.data);
        return status;
    }
    buffer.data[buffer.length] = '\0';
    *data = buffer.data;
    *length = buffer.length;
    return LUN_OK;
}

static lun_status parse_integer(parser *p, int64_t *value)
{
    bool negative = false;
    if (peek(p) == '-') {
        negative = true;
        p->position++;
    }
    char first = peek(p);
    if (first < '0' || first > '9') return fail(p, "expected a digit");
    /* Accumulate as a negative number so that INT64_MIN fits. */
    int64_t result = 0;
    size_t digits = 0;
    while (!at_end(p) && peek(p) >= '0' && peek(p) <= '9') {
        int digit = peek(p) - '0';
        if (digits == 1 && first == '0') return fail(p, "leading zero in number");
        if (result < (INT64_MIN + digit) / 10) return fail(p, "integer out of range");
        result = result * 10 - digit;
        digits++;
        p->position++;
    }
    char next = peek(p);
    if (next == '.' || next == 'e' || next == 'E')
        return fail(p, "only integer numbers are supported");
    if (!negative) {
        if (result == INT64_MIN) return fail(p, "integer out of range");
        result = -result;
    }
    *value = result;
    return LUN_OK;
}

static lun_status parse_literal(parser *p, const char *word, spectest_json *value)
{
    size_t length = strlen(word);
    if (p->length - p->position < length || memcmp(p->text + p->position, word, length) != 0)
        return fail(p, "unexpected character");
    p->position += length;
    if (word[0] == 'n') {
        value->kind = SPECTEST_JSON_NULL;
    } else {
        value->kind = SPECTEST_JSON_BOOL;
        value->boolean = word[0] == 't';
    }
    return LUN_OK;
}

/* Grows *items (element size bytes) to hold at least count + 1 elements. */
static bool grow(void **items, size_t *capacity, size_t count, size_t size)
{
    if (count < *capacity) return true;
    size_t new_capacity = *capacity ? *capacity * 2 : 4;
    void *grown = realloc(*items, new_capacity * size);
    if (grown == NULL) return false;
    *items = grown;
    *capacity = new_capacity;
    return true;
}

static lun_status parse_array(parser *p, spectest_json *value)
{
    spectest_json *items = NULL;
    size_t count = 0, capacity = 0;
    lun_status status = LUN_OK;
    p->position++; /* '[' */
    skip_whitespace(p);
    if (peek(p) == ']') {
        p->position++;
    } else {
        for (;;) {
            if (!grow((void **)&items, &capacity, count, sizeof *items)) {
                status = out_of_memory(p);
                break;
            }
            status = parse_value(p, &items[count]);
            if (status != LUN_OK) break;
            count++;
            skip_whitespace(p);
            char c = peek(p);
            p->position++;
            if (c == ']') break;
            if (c != ',') {
                p->position--;
                status = fail(p, "expected ',' or ']' in array");
                break;
            }
        }
    }
    if (status != LUN_OK) {
        for (size_t i = 0; i < count; i++)
            free_value(&items[i]);
        free(items);
        return status;
    }
    value->kind = SPECTEST_JSON_ARRAY;
    value->array.items = items;
    value->array.count = count;
    return LUN_OK;
}

static bool has_key(const spectest_json_member *members, size_t count, const char *key,
                    size_t key_length)
{
    for (size_t i = 0; i < count; i++) {
        if (members[i].key_length == key_length && memcmp(members[i].key, key, key_length) == 0)
            return true;
    }
    return false;
}

/* One "key": value pair, appended to members[*count]. */
static lun_status parse_member(parser *p, spectest_json_member *members, size_t *count)
{
    spectest_json_member *member = &members[*count];
    skip_whitespace(p);
    if (peek(p) != '"') return fail(p, "expected a string key in object");
    size_t key_position = p->position;
    lun_status status = parse_string(p, &member->key, &member->key_length);
    if (status != LUN_OK) return status;
    if (has_key(members, *count, member->key, member->key_length)) {
        free(member->key);
        p->position = key_position;
        return fail(p, "duplicate key in object");
    }
    skip_whitespace(p);
    if (peek(p) != ':') {
        free(member->key);
        return fail(p, "expected ':' after key");
    }
    p->position++;
    status = parse_value(p, &member->value);
    if (status != LUN_OK) {
        free(member->key);
        return status;
    }
    (*count)++;
    return LUN_OK;
}

static lun_status parse_object(parser *p, spectest_json *value)
{
    spectest_json_member *members = NULL;
    size_t count = 0, capacity = 0;
    lun_status status = LUN_OK;
    p->position++; /* '{' */
    skip_whitespace(p);
    if (peek(p) == '}') {
        p->position++;
    } else {
        for (;;) {
            if (count == SPECTEST_JSON_MAX_MEMBERS) {
                status = fail(p, "too many members in object");
                break;
            }
            if (!grow((void **)&members, &capacity, count, sizeof *members)) {
                status = out_of_memory(p);
                break;
            }
            status = parse_member(p, members, &count);
            if (status != LUN_OK) break;
            skip_whitespace(p);
            char c = peek(p);
            p->position++;
            if (c == '}') break;
            if (c != ',') {
                p->position--;
                status = fail(p, "expected ',' or '}' in object");
                break;
            }
        }
    }
    value->kind = SPECTEST_JSON_OBJECT;
    value->object.members = members;
    value->object.count = count;
    if (status != LUN_OK) free_value(value);
    return status;
}

static lun_status parse_value(parser *p, spectest_json *value)
{
    skip_whitespace(p);
    if (at_end(p)) return fail(p, "unexpected end of input");
    if (p->depth >= SPECTEST_JSON_MAX_DEPTH) return fail(p, "nesting too deep");
    lun_status status;
    char c = peek(p);
    p->depth++;
    switch (c) {
    case '{': status = parse_object(p, value); break;
    case '[': status = parse_array(p, value); break;
    case '"':
        value->kind = SPECTEST_JSON_STRING;
        status = parse_string(p, &value->string.data, &value->string.length);
        break;
    case 't': status = parse_literal(p, "true", value); break;
    case 'f': status = parse_literal(p, "false", value); break;
    case 'n': status = parse_literal(p, "null", value); break;
    default:
        value->kind = SPECTEST_JSON_INTEGER;
        status = parse_integer(p, &value->integer);
        break;
    }
    p->depth--;
    return status;
}

static void free_value(spectest_json *value)
{
    switch (value->kind) {
    case SPECTEST_JSON_STRING: free(value->string.data); break;
    case SPECTEST_JSON_ARRAY:
        for (size_t i = 0; i < value->array.count; i++)
            free_value(&value->array.items[i]);
        free(value->array.items);
        break;
    case SPECTEST_JSON_OBJECT:
        for (size_t i = 0; i < value->object.count; i++) {
            free(value->object.members[i].key);
            free_value(&value->object.members[i].value);
        }
        free(value->object.members);
        break;
    default: break;
    }
}

lun_status spectest_json_parse(const char *text, size_t length, spectest_json **root,
                               lun_error *error)
{
    parser p = {.text = text, .length = length, .error = error};
    *root = NULL;
    if (text == NULL && length != 0)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "JSON: no text");
    spectest_json *value = calloc(1, sizeof *value);
    if (value == NULL) return out_of_memory(&p);
    lun_status status = parse_value(&p, value);
    if (status == LUN_OK) {
        skip_whitespace(&p);
        if (!at_end(&p)) {
            status = fail(&p, "trailing characters after the value");
            free_value(value);
        }
    }
    if (status != LUN_OK) {
        free(value);
        return status;
    }
    *root = value;
    return LUN_OK;
}

void spectest_json_free(spectest_json *root)
{
    if (root == NULL) return;
    free_value(root);
    free(root);
}

const spectest_json *spectest_json_get(const spectest_json *json, const char *key)
{
    if (json == NULL || json->kind != SPECTEST_JSON_OBJECT) return NULL;
    size_t key_length = strlen(key);
    for (size_t i = 0; i < json->object.count; i++) {
        const spectest_json_member *member = &json->object.members[i];
        if (member->key_length == key_length && memcmp(member->key, key, key_length) == 0)
            return &member->value;
    }
    return NULL;
}

const char *spectest_json_get_string(const spectest_json *json, const char *key)
{
    const spectest_json *value = spectest_json_get(json, key);
    return value != NULL && value->kind == SPECTEST_JSON_STRING ? value->string.data : NULL;
}

const spectest_json *spectest_json_get_array(const spectest_json *json, const char *key)
{
    const spectest_json *value = spectest_json_get(json, key);
    return value != NULL && value->kind == SPECTEST_JSON_ARRAY ? value : NULL;
}

bool spectest_json_get_integer(const spectest_json *json, const char *key, int64_t *value)
{
    const spectest_json *member = spectest_json_get(json, key);
    if (member == NULL || member->kind != SPECTEST_JSON_INTEGER) return false;
    *value = member->integer;
    return true;
}

/*
 * Reading the manifest and the known-failures list of the spec-test runner
 * (see lists.h). Both are small line-oriented text files.
 */
#include "lists.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

/* One line of text, without its end-of-line characters. */
typedef struct line_cursor {
    const char *text;
    size_t length;
    size_t position;
    size_t number;
} line_cursor;

static bool next_line(line_cursor *cursor, const char **line, size_t *line_length)
{
    if (cursor->position >= cursor->length) return false;
    const char *start = cursor->text + cursor->position;
    const char *end = memchr(start, '\n', cursor->length - cursor->position);
    size_t length = end != NULL ? (size_t)(end - start) : cursor->length - cursor->position;
    cursor->position += length + (end != NULL ? 1 : 0);
    cursor->number++;
    if (length > 0 && start[length - 1] == '\r') length--;
    *line = start;
    *line_length = length;
    return true;
}

/* Column `index` (0-based, tab-separated) of a line as a new string; NULL
 * when absent or out of memory (*no_memory tells which). */
static char *column(const char *line, size_t length, size_t index, bool *no_memory)
{
    const char *start = line, *end = line + length;
    for (size_t i = 0; i < index; i++) {
        const char *tab = memchr(start, '\t', (size_t)(end - start));
        if (tab == NULL) return NULL;
        start = tab + 1;
    }
    const char *tab = memchr(start, '\t', (size_t)(end - start));
    size_t size = (size_t)((tab != NULL ? tab : end) - start);
    char *copy = malloc(size + 1);
    if (copy == NULL) {
        *no_memory = true;
        return NULL;
    }
    memcpy(copy, start, size);
    copy[size] = '\0';
    return copy;
}

static bool is_blank(const char *line, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (line[i] != ' ' && line[i] != '\t') return false;
    }
    return true;
}

/* "passed/total" to total, or -1. */
static int64_t parse_total(const char *text)
{
    const char *slash = text != NULL ? strchr(text, '/') : NULL;
    uint64_t total;
    if (slash == NULL || spectest_parse_unsigned(slash + 1, INT64_MAX, &total, NULL) != LUN_OK)
        return -1;
    return (int64_t)total;
}

static lun_status manifest_add_line(spectest_manifest *manifest, size_t *capacity, const char *line,
                                    size_t length, size_t number, lun_error *error)
{
    bool no_memory = false;
    char *path = column(line, length, 0, &no_memory);
    char *flags = column(line, length, 1, &no_memory);
    char *results = column(line, length, 2, &no_memory);
    lun_status status = LUN_OK;
    if (no_memory) {
        status = lun_error_set(error, LUN_ERR_NO_MEMORY, "manifest: out of memory");
    } else if (path == NULL || path[0] == '\0') {
        status = lun_error_set(error, LUN_ERR_MALFORMED, "manifest line %zu: no path", number);
    } else if (manifest->count == *capacity) {
        size_t grown = *capacity ? *capacity * 2 : 64;
        void *entries = realloc(manifest->entries, grown * sizeof *manifest->entries);
        if (entries == NULL) {
            status = lun_error_set(error, LUN_ERR_NO_MEMORY, "manifest: out of memory");
        } else {
            manifest->entries = entries;
            *capacity = grown;
        }
    }
    if (status == LUN_OK) {
        if (flags != NULL && (strcmp(flags, "none") == 0 || flags[0] == '\0')) {
            free(flags);
            flags = NULL;
        }
        spectest_manifest_entry *entry = &manifest->entries[manifest->count++];
        entry->path = path;
        entry->flags = flags;
        entry->expected_total = parse_total(results);
        path = flags = NULL;
    }
    free(path);
    free(flags);
    free(results);
    return status;
}

lun_status spectest_manifest_parse(const char *text, size_t length, spectest_manifest *manifest,
                                   lun_error *error)
{
    line_cursor cursor = {.text = text, .length = length};
    const char *line;
    size_t line_length, capacity = 0;
    memset(manifest, 0, sizeof *manifest);
    if (!next_line(&cursor, &line, &line_length))
        return lun_error_set(error, LUN_ERR_MALFORMED, "manifest: empty (no header line)");
    while (next_line(&cursor, &line, &line_length)) {
        if (is_blank(line, line_length) || line[0] == '#') continue;
        lun_status status =
            manifest_add_line(manifest, &capacity, line, line_length, cursor.number, error);
        if (status != LUN_OK) {
            spectest_manifest_free(manifest);
            return status;
        }
    }
    return LUN_OK;
}

void spectest_manifest_free(spectest_manifest *manifest)
{
    for (size_t i = 0; i < manifest->count; i++) {
        free(manifest->entries[i].path);
        free(manifest->entries[i].flags);
    }
    free(manifest->entries);
    memset(manifest, 0, sizeof *manifest);
}

static lun_status expectation_add_line(spectest_expectations *list, size_t *capacity,
                                       const char *line, size_t length, size_t number,
                                       lun_error *error)
{
    bool no_memory = false;
    char *path = column(line, length, 0, &no_memory);
    char *count = column(line, length, 1, &no_memory);
    char *extra = column(line, length, 2, &no_memory);
    uint64_t failed = 0;
    lun_status status = LUN_OK;
    if (no_memory) {
        status = lun_error_set(error, LUN_ERR_NO_MEMORY, "expected failures: out of memory");
    } else if (path == NULL || path[0] == '\0' || count == NULL || extra != NULL) {
        status = lun_error_set(error, LUN_ERR_MALFORMED,
                               "expected failures line %zu: want \"path<TAB>count\"", number);
    } else if (spectest_parse_unsigned(count, UINT64_MAX, &failed, NULL) != LUN_OK) {
        status = lun_error_set(error, LUN_ERR_MALFORMED,
                               "expected failures line %zu: bad count \"%s\"", number, count);
    } else if (spectest_expectations_find(list, path) != NULL &&
               strcmp(spectest_expectations_find(list, path)->path, path) == 0) {
        status = lun_error_set(error, LUN_ERR_MALFORMED,
                               "expected failures line %zu: %s listed twice", number, path);
    } else if (list->count == *capacity) {
        size_t grown = *capacity ? *capacity * 2 : 32;
        void *items = realloc(list->items, grown * sizeof *list->items);
        if (items == NULL) {
            status = lun_error_set(error, LUN_ERR_NO_MEMORY, "expected failures: out of memory");
        } else {
            list->items = items;
            *capacity = grown;
        }
    }
    if (status == LUN_OK) {
        list->items[list->count++] = (spectest_expectation){.path = path, .failed = failed};
        path = NULL;
    }
    free(path);
    free(count);
    free(extra);
    return status;
}

lun_status spectest_expectations_parse(const char *text, size_t length,
                                       spectest_expectations *expectations, lun_error *error)
{
    line_cursor cursor = {.text = text, .length = length};
    const char *line;
    size_t line_length, capacity = 0;
    memset(expectations, 0, sizeof *expectations);
    while (next_line(&cursor, &line, &line_length)) {
        if (is_blank(line, line_length) || line[0] == '#') continue;
        lun_status status =
            expectation_add_line(expectations, &capacity, line, line_length, cursor.number, error);
        if (status != LUN_OK) {
            spectest_expectations_free(expectations);
            return status;
        }
    }
    return LUN_OK;
}

void spectest_expectations_free(spectest_expectations *expectations)
{
    for (size_t i = 0; i < expectations->count; i++)
        free(expectations->items[i].path);
    free(expectations->items);
    memset(expectations, 0, sizeof *expectations);
}

static bool path_matches(const char *listed, const char *path)
{
    size_t listed_length = strlen(listed), path_length = strlen(path);
    if (listed_length == path_length) return strcmp(listed, path) == 0;
    if (listed_length > path_length) return false;
    return path[path_length - listed_length - 1] == '/' &&
           strcmp(path + path_length - listed_length, listed) == 0;
}

spectest_expectation *spectest_expectations_find(spectest_expectations *expectations,
                                                 const char *path)
{
    spectest_expectation *best = NULL;
    for (size_t i = 0; i < expectations->count; i++) {
        spectest_expectation *item = &expectations->items[i];
        /* The longest match wins: "simd/x.wast" must not shadow "wast/simd/x.wast". */
        if (path_matches(item->path, path) &&
            (best == NULL || strlen(item->path) > strlen(best->path)))
            best = item;
    }
    return best;
}

bool spectest_is_simd_path(const char *path)
{
    return strncmp(path, "wast/simd/", 10) == 0 || strstr(path, "/wast/simd/") != NULL;
}

lun_status spectest_read_file(const char *path, size_t max_size, char **data, size_t *size,
                              lun_error *error)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return lun_error_set(error, errno == ENOENT ? LUN_ERR_NOT_FOUND : LUN_ERR_IO,
                             "cannot open %s: %s", path, strerror(errno));
    char *buffer = NULL;
    size_t length = 0, capacity = 0;
    lun_status status = LUN_OK;
    for (;;) {
        if (length == capacity) {
            if (capacity > max_size) {
                status = lun_error_set(error, LUN_ERR_NO_MEMORY, "%s: larger than %zu bytes", path,
                                       max_size);
                break;
            }
            size_t grown = capacity ? capacity * 2 : 4096;
            char *bigger = realloc(buffer, grown + 1);
            if (bigger == NULL) {
                status = lun_error_set(error, LUN_ERR_NO_MEMORY, "%s: out of memory", path);
                break;
            }
            buffer = bigger;
            capacity = grown;
        }
        size_t got = fread(buffer + length, 1, capacity - length, file);
        length += got;
        if (got == 0) {
            if (ferror(file)) status = lun_error_set(error, LUN_ERR_IO, "cannot read %s", path);
            break;
        }
    }
    fclose(file);
    if (status == LUN_OK && length > max_size)
        status =
            lun_error_set(error, LUN_ERR_NO_MEMORY, "%s: larger than %zu bytes", path, max_size);
    if (status != LUN_OK) {
        free(buffer);
        return status;
    }
    buffer[length] = '\0';
    *data = buffer;
    *size = length;
    return LUN_OK;
}

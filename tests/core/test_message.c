/*
 * Messages: data buffers with a read position, tags, resources taken by
 * index, LinkDied and ProcessDied messages, and bad input.
 */
#include "core_test.h"

static int destroyed;
static void count_destroy(void *resource)
{
    destroyed++;
    free(resource);
}
static const lun_resource_type socket_type = {"socket", count_destroy};
static const lun_resource_type module_type = {"module", count_destroy};

static void test_data_write_read_seek(void **state)
{
    lun_message *message = lun_message_new_data(42, 4);
    assert_non_null(message);
    assert_int_equal(lun_message_get_kind(message), LUN_MESSAGE_DATA);
    assert_int_equal(lun_message_tag(message), 42);
    assert_int_equal(lun_message_process_id(message), 0);
    char text[600];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 26);
    assert_int_equal(lun_message_write(message, "hi", 2, NULL), LUN_OK);
    assert_int_equal(lun_message_write(message, text, sizeof text, NULL), LUN_OK); /* grows */
    assert_int_equal(lun_message_size(message), 2 + sizeof text);
    char buffer[700];
    size_t read = 0;
    assert_int_equal(lun_message_read(message, buffer, 2, &read, NULL), LUN_OK);
    assert_int_equal(read, 2);
    assert_memory_equal(buffer, "hi", 2);
    assert_int_equal(lun_message_position(message), 2);
    assert_int_equal(lun_message_read(message, buffer, sizeof buffer, &read, NULL), LUN_OK);
    assert_int_equal(read, sizeof text);
    assert_memory_equal(buffer, text, sizeof text);
    assert_int_equal(lun_message_read(message, buffer, 10, &read, NULL), LUN_OK);
    assert_int_equal(read, 0); /* at the end */
    assert_int_equal(lun_message_seek(message, 1, NULL), LUN_OK);
    assert_int_equal(lun_message_read(message, buffer, 1, &read, NULL), LUN_OK);
    assert_int_equal(buffer[0], 'i');
    /* Seeking past the end is allowed; reading there is an error. */
    assert_int_equal(lun_message_seek(message, 100000, NULL), LUN_OK);
    lun_error error;
    assert_int_equal(lun_message_read(message, buffer, 1, &read, &error), LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(read, 0);
    lun_message_free(message);
}

static void test_resources_keep_indexes(void **state)
{
    destroyed = 0;
    lun_message *message = lun_message_new_data(0, 0);
    size_t index = 99;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lun_message_push_resource(message, malloc(8), &socket_type, &index, NULL),
                         LUN_OK);
        assert_int_equal(index, (size_t)i);
    }
    assert_int_equal(lun_message_push_resource(message, malloc(8), &module_type, &index, NULL),
                     LUN_OK);
    assert_int_equal(lun_message_resource_count(message), 4);
    void *resource = NULL;
    assert_int_equal(lun_message_take_resource(message, 1, &socket_type, &resource, NULL), LUN_OK);
    assert_non_null(resource);
    free(resource);
    /* Slot 1 is now empty, the others keep their indexes. */
    assert_int_equal(lun_message_take_resource(message, 1, &socket_type, &resource, NULL),
                     LUN_ERR_NOT_FOUND);
    assert_null(resource);
    assert_int_equal(lun_message_take_resource(message, 4, NULL, &resource, NULL),
                     LUN_ERR_NOT_FOUND);
    /* Wrong kind: an error, and the resource stays. */
    assert_int_equal(lun_message_take_resource(message, 3, &socket_type, &resource, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_message_take_resource(message, 2, &socket_type, &resource, NULL), LUN_OK);
    free(resource);
    assert_int_equal(lun_message_resource_count(message), 4);
    lun_message_free(message); /* destroys slots 0 and 3 */
    assert_int_equal(destroyed, 2);
}

static void test_other_kinds(void **state)
{
    lun_message *died = lun_message_new_link_died(7);
    assert_int_equal(lun_message_get_kind(died), LUN_MESSAGE_LINK_DIED);
    assert_int_equal(lun_message_tag(died), 7);
    assert_int_equal(lun_message_write(died, "x", 1, NULL), LUN_ERR_INVALID_ARGUMENT);
    assert_null(lun_message_data(died));
    lun_message_free(died);
    lun_message *process_died = lun_message_new_process_died(12);
    assert_int_equal(lun_message_get_kind(process_died), LUN_MESSAGE_PROCESS_DIED);
    assert_int_equal(lun_message_process_id(process_died), 12);
    assert_int_equal(lun_message_tag(process_died), 0);
    void *resource;
    assert_int_equal(lun_message_take_resource(process_died, 0, NULL, &resource, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_message_push_resource(process_died, &resource, &socket_type, NULL, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    size_t read;
    assert_int_equal(lun_message_read(process_died, &resource, 1, &read, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_message_seek(process_died, 0, NULL), LUN_ERR_INVALID_ARGUMENT);
    lun_message_free(process_died);
}

static void test_bad_input(void **state)
{
    lun_message_free(NULL);
    assert_int_equal(lun_message_write(NULL, "x", 1, NULL), LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_message_tag(NULL), 0);
    assert_int_equal(lun_message_size(NULL), 0);
    lun_message *message = lun_message_new_data(1, 0);
    assert_int_equal(lun_message_write(message, NULL, 5, NULL), LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_message_write(message, NULL, 0, NULL), LUN_OK);
    /* Huge: refused without allocating anything. */
    lun_error error;
    assert_int_equal(lun_message_write(message, "x", SIZE_MAX, &error), LUN_ERR_NO_MEMORY);
    assert_int_equal(lun_message_write(message, "x", LUN_MESSAGE_MAX_SIZE + 1, NULL),
                     LUN_ERR_NO_MEMORY);
    assert_int_equal(lun_message_size(message), 0);
    assert_int_equal(lun_message_push_resource(message, NULL, &socket_type, NULL, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_message_take_resource(message, 0, NULL, NULL, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    /* A huge capacity hint is only a hint. */
    lun_message *big = lun_message_new_data(0, SIZE_MAX / 2);
    assert_non_null(big);
    assert_int_equal(lun_message_write(big, "abc", 3, NULL), LUN_OK);
    lun_message_free(big);
    lun_message_free(message);
}

static void test_sending_bad_input(void **state)
{
    fixture *f = fixture_new(1);
    assert_int_equal(lun_process_send_message(NULL, lun_message_new_data(0, 0), NULL),
                     LUN_ERR_INVALID_ARGUMENT); /* the message is freed */
    lun_signal signal = {.kind = (lun_signal_kind)77};
    lun_error error;
    assert_int_equal(lun_process_send(NULL, &signal, &error), LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_process_send(NULL, NULL, NULL), LUN_ERR_INVALID_ARGUMENT);
    assert_int_equal(lun_process_kill(NULL, NULL), LUN_ERR_INVALID_ARGUMENT);
    signal.kind = LUN_SIGNAL_MESSAGE;
    assert_int_equal(lun_environment_send(f->environment, 1, &signal, NULL),
                     LUN_ERR_INVALID_ARGUMENT);
    signal.message = lun_message_new_data(3, 0);
    assert_int_equal(lun_environment_send(f->environment, 12345, &signal, NULL), LUN_OK);
    assert_int_equal(lun_environment_send(NULL, 1, NULL, NULL), LUN_ERR_INVALID_ARGUMENT);
    fixture_free(f);
}

/* Must run first: the level is read from LUNATIC_LOG on first use. */
static void test_log_level_from_environment(void **state)
{
    assert_int_equal(lun_log_get_level(), LUN_LOG_INFO);
}

int main(void)
{
    setenv("LUNATIC_LOG", "info", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_level_from_environment),
        cmocka_unit_test(test_data_write_read_seek),
        cmocka_unit_test(test_resources_keep_indexes),
        cmocka_unit_test(test_other_kinds),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_sending_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

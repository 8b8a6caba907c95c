# The layering, enforced: a library that includes a library above it, or a pure unit that
# includes an I/O, store, daemon or systemd header, fails this test.
add_test(NAME layering COMMAND ${CMAKE_CURRENT_LIST_DIR}/../layering/check_layers.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(layering PROPERTIES LABELS lint)

# The format, enforced: a C++ source that differs from .clang-format fails this test.
add_test(NAME format COMMAND ${CMAKE_CURRENT_LIST_DIR}/../format/check_format.sh)
set_tests_properties(format PROPERTIES LABELS lint)
